import json
import os

import pytest

from redstar.errors import InputError
from redstar.records import Prompt
from redstar.tables import JsonlAppender, parse_records, write_json, write_table


def good(i):
    return json.dumps({"domain": "math", "source": "s", "question": f"q{i}", "reference": str(i)})


def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(good(1) + "\n" + '{"domain": "math", oops}\n' + good(3) + "\n")
    with pytest.raises(InputError) as err:
        parse_records(path, Prompt.from_dict)
    assert err.value.line == 2 and str(path) in str(err.value)


def test_bad_field_names_file_line_and_field(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(good(1) + "\n\n" + json.dumps({"domain": "math", "source": "s", "question": "q"}) + "\n")
    with pytest.raises(InputError) as err:
        parse_records(path, Prompt.from_dict)
    assert (err.value.line, err.value.field) == (3, "reference")
    assert f"{path}:3" in str(err.value) and "'reference'" in str(err.value)


def test_non_object_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(InputError, match="expected a JSON object"):
        parse_records(path, Prompt.from_dict)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        parse_records(tmp_path / "nope.jsonl", Prompt.from_dict)


def test_write_table_jsonl_and_parquet_round_trip(tmp_path):
    prompts = [Prompt(domain="math", source="s", question=f"q{i}", reference=str(i), metadata={"k": i}) for i in range(3)]
    write_table(tmp_path / "p.jsonl", prompts)
    assert parse_records(tmp_path / "p.jsonl", Prompt.from_dict) == prompts
    write_table(tmp_path / "p.parquet", prompts)
    rows = parse_records(tmp_path / "p.parquet", lambda r: r)
    assert [r["question"] for r in rows] == ["q0", "q1", "q2"]
    assert json.loads(rows[2]["metadata"]) == {"k": 2}


def test_appender_drops_torn_last_line_and_keeps_the_rest(tmp_path):
    path = tmp_path / "s.jsonl"
    with JsonlAppender(path) as t:
        t.append([{"i": 0}, {"i": 1}])
    with path.open("a") as handle:  # what a kill -9 in the middle of a write leaves behind
        handle.write('{"i": 2, "resp')
    with JsonlAppender(path) as t:
        assert [r["i"] for r in t.rows] == [0, 1]
        t.append([{"i": 2}])
    assert [json.loads(line)["i"] for line in path.read_text().splitlines()] == [0, 1, 2]


def test_appender_names_a_damaged_middle_line_and_keeps_the_file(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"i": 0}\n{"i": 1, \n{"i": 2}\n')
    with pytest.raises(InputError, match=r"s\.jsonl:2: invalid JSON"):
        JsonlAppender(path)
    assert path.read_text() == '{"i": 0}\n{"i": 1, \n{"i": 2}\n'  # nothing cut
    path.write_bytes(b'{"i": 0}\n{"i": "\xff"}\n{"i": 2}\n')
    with pytest.raises(InputError, match=r"s\.jsonl:2: bytes that are not UTF-8"):
        JsonlAppender(path)
    path.write_text('{"i": 0}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"s\.jsonl:2: expected a JSON object"):
        JsonlAppender(path)


def test_a_lone_surrogate_never_loses_a_batch(tmp_path):
    rows = [{"response": "fine"}, {"response": "half a pair: \ud800"}, {"response": "fine too"}]
    write_table(tmp_path / "t.jsonl", rows)
    assert parse_records(tmp_path / "t.jsonl", lambda r: r) == rows
    with JsonlAppender(tmp_path / "a.jsonl") as t:
        t.append(rows)
    with JsonlAppender(tmp_path / "a.jsonl") as t:
        assert t.rows == rows
    write_json(tmp_path / "j.json", {"rows": rows})
    assert json.loads((tmp_path / "j.json").read_text())["rows"] == rows


def test_whole_and_appended_tables_get_the_same_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        write_table(tmp_path / "whole.jsonl", [{"a": 1}])
        write_json(tmp_path / "doc.json", {"a": 1})
        with JsonlAppender(tmp_path / "appended.jsonl") as t:
            t.append([{"a": 1}])
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"whole.jsonl": 0o640, "doc.json": 0o640, "appended.jsonl": 0o640}
