"""Tables as users hold them: every form ``datasets`` writes or reads is read by ``iter_rows``, and
every failure is an InputError naming the path (and the row), never a traceback from ``datasets``."""

import json

import pytest

from redstar.errors import InputError, RedStarError
from redstar.tables import iter_rows, parse_records, read_options

datasets = pytest.importorskip("datasets")

ROWS = [{"question": f"q{i}", "answer": str(i), "tags": ["a", "b"][: i % 3]} for i in range(4)]


def rows_of(spec, **read):
    return list(iter_rows(spec, **read))


def test_save_to_disk_folder(tmp_path):
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "saved"))
    assert rows_of(tmp_path / "saved") == list(enumerate(ROWS, start=1))


def test_dataset_dict_folder_picks_the_split_and_lists_the_others(tmp_path):
    both = datasets.DatasetDict(train=datasets.Dataset.from_list(ROWS), test=datasets.Dataset.from_list(ROWS[:1]))
    both.save_to_disk(str(tmp_path / "dd"))
    assert rows_of(tmp_path / "dd", split="test") == [(1, ROWS[0])]
    assert [r for _, r in rows_of(tmp_path / "dd")] == ROWS
    with pytest.raises(InputError, match="no split 'validation'; it has: train, test") as err:
        rows_of(tmp_path / "dd", split="validation")
    assert err.value.path == str(tmp_path / "dd")


def test_arrow_shard_and_arrow_ipc_file(tmp_path):
    import pyarrow as pa

    ds = datasets.Dataset.from_list(ROWS)
    ds.save_to_disk(str(tmp_path / "saved"))
    shard = next((tmp_path / "saved").glob("data-*.arrow"))
    assert [r for _, r in rows_of(shard)] == ROWS
    table = ds.data.table
    with pa.OSFile(str(tmp_path / "file.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)  # the random-access IPC format (Feather v2) other tools write
    assert rows_of(tmp_path / "file.arrow")[3] == (4, ROWS[3])


def test_parquet_file(tmp_path):
    datasets.Dataset.from_list(ROWS).to_parquet(str(tmp_path / "t.parquet"))
    assert rows_of(tmp_path / "t.parquet") == list(enumerate(ROWS, start=1))


def test_json_lines_saved_as_json(tmp_path):
    datasets.Dataset.from_list(ROWS).to_json(str(tmp_path / "t.json"))  # datasets writes JSON Lines
    assert rows_of(tmp_path / "t.json") == list(enumerate(ROWS, start=1))


def test_json_lines_in_json_keep_line_errors(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(ROWS[0]) + "\n\n" + '{"question": oops}\n')
    with pytest.raises(InputError) as err:
        rows_of(path)
    assert err.value.line == 3 and f"{path}:3" in str(err.value)


def test_json_documents_still_read_whole(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps(ROWS, indent=2))
    assert [r for _, r in rows_of(tmp_path / "list.json")] == ROWS
    (tmp_path / "map.json").write_text(json.dumps({"7": ROWS[0], "8": ROWS[1]}))
    assert [r["_key"] for _, r in rows_of(tmp_path / "map.json")] == ["7", "8"]
    (tmp_path / "one.json").write_text(json.dumps(ROWS[1]) + "\n")
    assert rows_of(tmp_path / "one.json") == [(1, ROWS[1])]


def write_hub_folder(root):
    (root / "data").mkdir(parents=True)
    datasets.Dataset.from_list(ROWS[:3]).to_parquet(str(root / "data" / "train-00000.parquet"))
    datasets.Dataset.from_list(ROWS[3:]).to_parquet(str(root / "data" / "test-00000.parquet"))
    (root / "hard").mkdir()
    datasets.Dataset.from_list(ROWS[1:2]).to_parquet(str(root / "hard" / "train-00000.parquet"))
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n"
        "  - split: test\n    path: data/test-*\n- config_name: hard\n  data_files:\n  - split: train\n"
        "    path: hard/train-*\n---\n# a dataset\n")


def test_hub_style_folder_with_configs(tmp_path):
    write_hub_folder(tmp_path / "hub")
    assert [r for _, r in rows_of(tmp_path / "hub")] == ROWS[:3]
    assert rows_of(tmp_path / "hub", split="test") == [(1, ROWS[3])]
    assert rows_of(tmp_path / "hub", name="hard") == [(1, ROWS[1])]
    assert rows_of(tmp_path / "hub", data_files={"train": "hard/*.parquet"}) == [(1, ROWS[1])]
    with pytest.raises(InputError, match="hub") as err:
        rows_of(tmp_path / "hub", name="nope")
    assert err.value.path == str(tmp_path / "hub")


def test_plain_folder_of_data_files(tmp_path):
    (tmp_path / "plain").mkdir()
    datasets.Dataset.from_list(ROWS).to_parquet(str(tmp_path / "plain" / "part.parquet"))
    assert [r for _, r in rows_of(tmp_path / "plain")] == ROWS


def test_hub_id_passes_config_files_revision_and_streaming(monkeypatch):
    calls = []

    def fake_load_dataset(path, **kwargs):
        calls.append((path, kwargs))
        return iter([{"question": "q"}, {"question": "r"}])  # what a streamed split yields

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    rows = rows_of("org/set", split="test", name="algebra", data_files="x/*.parquet", revision="v1", streaming=True)
    assert rows == [(1, {"question": "q"}), (2, {"question": "r"})]
    assert calls == [("org/set", {"name": "algebra", "data_files": "x/*.parquet", "revision": "v1",
                                  "split": "test", "streaming": True})]


def test_streaming_stops_reading_when_the_caller_stops(monkeypatch):
    pulled = []

    def endless(path, **kwargs):
        for i in range(10**9):
            pulled.append(i)
            yield {"i": i}

    monkeypatch.setattr(datasets, "load_dataset", endless)
    rows = iter_rows("org/huge", streaming=True)
    assert [next(rows)[0] for _ in range(3)] == [1, 2, 3]
    rows.close()
    assert len(pulled) == 3


def test_hub_failure_mid_stream_names_the_row(monkeypatch):
    def flaky(path, **kwargs):
        yield {"i": 0}
        raise ConnectionError("connection reset")

    monkeypatch.setattr(datasets, "load_dataset", flaky)
    with pytest.raises(InputError, match="connection reset") as err:
        rows_of("org/set", streaming=True)
    assert (err.value.path, err.value.line) == ("org/set", 2)


def test_unknown_hub_id_is_an_input_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    with pytest.raises(InputError) as err:
        rows_of("no-such-org/no-such-set")
    assert err.value.path == "no-such-org/no-such-set" and "cannot load the hub dataset" in str(err.value)


@pytest.mark.parametrize("name", ["bad.arrow", "bad.parquet"])
def test_damaged_binary_tables_are_input_errors(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\xff not a table")
    with pytest.raises(InputError) as err:
        rows_of(path)
    assert err.value.path == str(path)


def test_binary_file_with_another_suffix_is_named_not_a_unicode_traceback(tmp_path):
    path = tmp_path / "table.bin"
    path.write_bytes(b'{"a": 1}\n\xff\xfe\n')
    with pytest.raises(InputError, match="not UTF-8") as err:
        rows_of(path)
    assert err.value.line == 2


def test_missing_local_files_and_revision_on_a_local_path(tmp_path):
    for name in ("x.arrow", "x.parquet", "x.json"):
        with pytest.raises(InputError, match="file not found"):
            rows_of(tmp_path / name)
    (tmp_path / "t.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    with pytest.raises(InputError, match="revision applies to hub datasets"):
        rows_of(tmp_path / "t.jsonl", revision="main")


def test_parse_records_names_the_row_of_a_binary_table(tmp_path):
    datasets.Dataset.from_list([{"domain": "math"}]).save_to_disk(str(tmp_path / "saved"))
    from redstar.records import Prompt

    with pytest.raises(InputError) as err:
        parse_records(tmp_path / "saved", Prompt.from_dict)
    assert err.value.line == 1 and err.value.field is not None


def test_read_options_are_checked_and_only_set_ones_passed():
    assert read_options("s") == {}
    assert read_options("s", "cfg", ["a.parquet"], "v1", True) == {
        "name": "cfg", "data_files": ["a.parquet"], "revision": "v1", "streaming": True}
    for bad in ({"name": 3}, {"data_files": 5}, {"revision": ""}, {"streaming": "yes"}):
        with pytest.raises(RedStarError, match=f"s: option '{next(iter(bad))}'"):
            read_options("s", **bad)
