"""Trainer data files: every malformed row is an InputError naming file, line and field, and
good rows come back complete and in order; the SFT file becomes a memory-mapped dataset built
once and reused while the file is unchanged."""

from __future__ import annotations

import json

import pytest

from redstar.errors import InputError
from redstar.trainers import sft_data
from redstar.trainers.sft_data import read_sft_rows, sft_dataset, training_row

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
@pytest.mark.parametrize("reader", ["rows", "dataset"])
def test_a_bad_row_names_file_line_and_field(tmp_path, bad, field, words, reader):
    path = write(tmp_path, [GOOD, GOOD, bad, GOOD])
    with pytest.raises(InputError) as info:
        if reader == "rows":
            read_sft_rows(path)
        else:  # raised inside datasets' generator, and handed on as it was
            sft_dataset(path, "assistant", tmp_path / "cache")
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
    with pytest.raises(InputError, match="no rows"):
        sft_dataset(empty, "assistant", tmp_path / "cache")
    with pytest.raises(InputError, match="not found"):
        read_sft_rows(tmp_path / "missing.jsonl")


def test_completion_masking_splits_off_the_last_assistant_turn():
    row = {"messages": GOOD["messages"]}
    assert training_row(row, "assistant") is row
    assert training_row(row, "completion") == {"prompt": GOOD["messages"][:1], "completion": GOOD["messages"][1:]}
    with pytest.raises(ValueError):
        training_row(row, "prompt")


@pytest.mark.parametrize("masking", ["assistant", "completion"])
def test_the_sft_dataset_is_memory_mapped_built_once_and_rebuilt_when_the_file_changes(tmp_path, monkeypatch,
                                                                                        masking):
    second = json.loads(json.dumps(GOOD))
    second["messages"][1]["content"] = "other"
    path = write(tmp_path, [GOOD, "", second])
    cache = tmp_path / "cache"
    dataset = sft_dataset(path, masking, cache)
    assert [training_row({"messages": r["messages"]}, masking) for r in read_sft_rows(path)] == list(dataset)
    # Arrow files on disk under the cache folder, mapped rather than loaded.
    assert dataset.cache_files and all(str(cache) in f["filename"] for f in dataset.cache_files)

    def unread(*args, **kwargs):
        raise AssertionError("the SFT file was read again")

    with monkeypatch.context() as patch:  # a second process, or a resumed run: the cache, not the file
        patch.setattr(sft_data, "iter_rows", unread)
        again = sft_dataset(path, masking, cache)
    assert again.cache_files == dataset.cache_files and list(again) == list(dataset)

    path.write_text(json.dumps(GOOD) + "\n")  # a rebuilt SFT set: read again
    assert len(sft_dataset(path, masking, cache)) == 1
    with pytest.raises(InputError, match="not found"):
        sft_dataset(tmp_path / "missing.jsonl", masking, cache)
