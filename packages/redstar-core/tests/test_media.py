"""A run directory stands alone: the images its rows point at are copied in, and a trainer finds
them after the directory has been moved."""

import json
import shutil
from pathlib import Path

import pytest

from redstar.errors import InputError
from redstar.media import localize_media
from redstar.records import RecordError
from redstar.tables import write_table
from redstar.trainers.rows import read_rows


def image_row(path):
    prompt = [{"role": "user", "content": [{"type": "image", "path": str(path)}, {"type": "text", "text": "Which?"}]}]
    return {"messages": [*prompt, {"role": "assistant", "content": "Answer: B"}]}


def parse(row):
    for part in row["messages"][0]["content"]:
        if part["type"] == "image" and not Path(part["path"]).read_bytes():
            raise RecordError("empty image", field="messages")
    return row


def test_images_are_copied_once_and_found_after_the_run_moves(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "a.PNG").write_bytes(b"png-a")
    (cache / "b.png").write_bytes(b"png-b")
    run = tmp_path / "run"
    run.mkdir()
    shared = image_row(cache / "a.PNG")["messages"][0]
    rows = [image_row(cache / "a.PNG"), image_row(cache / "b.png"),
            {"messages": [shared, {"role": "assistant", "content": "x"}]},
            {"messages": [shared, {"role": "assistant", "content": "y"}]}]  # one message object in two rows
    assert localize_media(rows, run) == 2
    paths = {p["path"] for r in rows for p in r["messages"][0]["content"] if p["type"] == "image"}
    assert all(not p.startswith("/") and p.startswith("images/") for p in paths) and len(paths) == 2
    write_table(run / "sft.jsonl", rows)
    shutil.rmtree(cache)  # the original images are gone: the run must not need them
    moved = shutil.move(str(run), str(tmp_path / "elsewhere" / "run"))
    read = read_rows(f"{moved}/sft.jsonl", parse)
    images = [p["path"] for r in read for p in r["messages"][0]["content"] if p["type"] == "image"]
    assert all(Path(p).read_bytes() in (b"png-a", b"png-b") for p in images)
    assert all(p.startswith(str(tmp_path / "elsewhere" / "run")) for p in images)
    # A rebuild over rows that already point inside the run copies nothing.
    again = [json.loads(line) for line in Path(moved, "sft.jsonl").read_text().splitlines()]
    assert localize_media(again, tmp_path / "elsewhere" / "run") == 0


def test_a_missing_image_is_named(tmp_path):
    with pytest.raises(InputError, match="nope.png: image not found"):
        localize_media([image_row(tmp_path / "nope.png")], tmp_path)
