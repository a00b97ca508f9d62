"""Trainer data files: every malformed row is an InputError naming file, line and field, and
good rows come back complete and in order."""

from __future__ import annotations

import json

import pytest

from redstar.errors import InputError
from redstar.trainers.sft_data import as_training_rows, read_sft_rows

GOOD = {"prompt_id": "p", "messages": [{"role": "user", "content": "1+1?"},
                                       {"role": "assistant", "content": "<think>1+1=2</think> 2"}]}


def write(tmp_path, rows):
    path = tmp_path / "sft.jsonl"
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def test_good_rows_are_read_in_order_with_only_role_and_content(tmp_path):
    second = json.loads(json.dumps(GOOD))
    second["messages"][1]["content"] = "other"
    second["messages"][0]["name"] = "ignored"
    rows = read_sft_rows(write(tmp_path, [GOOD, "", second]))
    assert [r["messages"][1]["content"] for r in rows] == ["<think>1+1=2</think> 2", "other"]
    assert rows[1]["messages"][0] == {"role": "user", "content": "1+1?"}


@pytest.mark.parametrize(("bad", "field", "words"), [
    ({"messages": GOOD["messages"]}, "prompt_id", "missing"),
    ({"prompt_id": 3, "messages": GOOD["messages"]}, "prompt_id", "string"),
    ({"prompt_id": "p"}, "messages", "missing"),
    ({"prompt_id": "p", "messages": []}, "messages", "non-empty"),
    ({"prompt_id": "p", "messages": [{"role": "user", "content": "q"}]}, "messages", "assistant"),
    ({"prompt_id": "p", "messages": [{"role": "assistant", "content": "a"}]}, "messages", "prompt"),
    ({"prompt_id": "p", "messages": [{"role": "robot", "content": "q"}, GOOD["messages"][1]]}, "messages", "role"),
    ({"prompt_id": "p", "messages": [{"role": "user", "content": 5}, GOOD["messages"][1]]}, "messages", "string"),
    ({"prompt_id": "p", "messages": [GOOD["messages"][0], {"role": "assistant", "content": "  "}]}, "messages",
     "empty"),
    ({"prompt_id": "p", "messages": [{"role": "user", "content": [{"type": "image", "path": "x.png"}]},
                                     GOOD["messages"][1]]}, "messages", "text only"),
])
def test_a_bad_row_names_file_line_and_field(tmp_path, bad, field, words):
    path = write(tmp_path, [GOOD, GOOD, bad, GOOD])
    with pytest.raises(InputError) as info:
        read_sft_rows(path)
    assert (info.value.path, info.value.line, info.value.field) == (str(path), 3, field)
    assert words in str(info.value)


def test_invalid_json_and_empty_files_are_errors(tmp_path):
    with pytest.raises(InputError) as info:
        read_sft_rows(write(tmp_path, [GOOD, "{not json"]))
    assert info.value.line == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InputError, match="no rows"):
        read_sft_rows(empty)
    with pytest.raises(InputError, match="not found"):
        read_sft_rows(tmp_path / "missing.jsonl")


def test_completion_masking_splits_off_the_last_assistant_turn():
    rows = [{"messages": GOOD["messages"]}]
    assert as_training_rows(rows, "assistant") is rows
    assert as_training_rows(rows, "completion") == [
        {"prompt": GOOD["messages"][:1], "completion": GOOD["messages"][1:]}]
    with pytest.raises(ValueError):
        as_training_rows(rows, "prompt")
