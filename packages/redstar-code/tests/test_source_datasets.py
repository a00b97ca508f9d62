"""The taco source reads TACO as users hold it (save_to_disk folders, .arrow, Parquet, hub-style
folders) and passes the hub options through."""

import json

import pytest

from redstar.errors import InputError, RedStarError
from redstar_code.source import TacoSource

datasets = pytest.importorskip("datasets")


def taco_row(question, difficulty="EASY"):
    """A row in TACO's schema (every field a string, as BAAI/TACO stores them)."""
    io = {"inputs": ["1 2\n"], "outputs": ["3\n"]}
    return {"question": question, "solutions": json.dumps(["print(sum(map(int, input().split())))"]),
            "starter_code": "", "input_output": json.dumps(io), "difficulty": difficulty,
            "raw_tags": "[]", "name": None, "source": "codeforces", "tags": "[]", "skill_types": "[]",
            "url": "https://example.invalid/1", "Expected Auxiliary Space": None, "time_limit": "1 second",
            "date": None, "picture_num": None, "memory_limit": None, "Expected Time Complexity": None}


ROWS = [taco_row("Add two numbers."), taco_row("Add them again.", "HARD")]


def test_taco_from_save_to_disk_arrow_and_hub_style_folder(tmp_path):
    datasets.DatasetDict(train=datasets.Dataset.from_list(ROWS)).save_to_disk(str(tmp_path / "taco"))
    prompts = list(TacoSource(str(tmp_path / "taco")).load())
    assert [p.question.splitlines()[0] for p in prompts] == ["Add two numbers.", "Add them again."]
    assert [p.metadata["row"] for p in prompts] == [1, 2]
    shard = next((tmp_path / "taco" / "train").glob("*.arrow"))
    assert len(list(TacoSource(str(shard)).load())) == 2
    (tmp_path / "hub" / "data").mkdir(parents=True)
    datasets.Dataset.from_list(ROWS[1:]).to_parquet(str(tmp_path / "hub" / "data" / "test-00000-of-00001.parquet"))
    assert [p.metadata["row"] for p in TacoSource(str(tmp_path / "hub"), split="test").load()] == [1]


def test_taco_bad_row_in_a_saved_dataset_names_the_row(tmp_path):
    bad = dict(ROWS[0], input_output="not json")
    datasets.Dataset.from_list([ROWS[0], bad]).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(InputError) as err:
        list(TacoSource(str(tmp_path / "saved")).load())
    assert (err.value.line, err.value.field) == (2, "input_output")


def test_taco_passes_hub_options(monkeypatch):
    seen = []

    def fake_load_dataset(path, **kwargs):
        seen.append((path, kwargs))
        return iter(ROWS)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    prompts = list(TacoSource(split="test", name="ALL", revision="refs/convert/parquet", streaming=True, limit=1).load())
    assert len(prompts) == 1
    assert seen == [("BAAI/TACO", {"name": "ALL", "revision": "refs/convert/parquet", "split": "test",
                                   "streaming": True})]
    with pytest.raises(RedStarError, match="taco: option 'data_files'"):
        TacoSource(data_files=3)
