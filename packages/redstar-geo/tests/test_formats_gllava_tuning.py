"""G-LLaVA's training file (Geo170K ``qa_tuning.json``, LLaVA conversations) read by the geoqa
source: as JSON, as a folder holding it, as a save_to_disk copy, and with bad rows named."""

import json
import logging

import pytest

from redstar.errors import InputError
from redstar_geo.benchmarks import sample_dir
from redstar_geo.choices import GLLAVA_INSTRUCTION
from redstar_geo.sources import GeoQASource

DIAGRAM = sample_dir("geoqa") / "test" / "0.png"


def tuning_row(i, question="In triangle ABC, angle A = 80°. Find angle 2.", answer="B", image=None):
    human = f"<image>\n{GLLAVA_INSTRUCTION}\nQuestion:{question}\nChoices:\nA:40°\nB:60°\nC:120°\nD:140°"
    gpt = f"Since angle A = 80°, angle 2 = 60°. Therefore the answer is option {answer}.\nAnswer:{answer}"
    return {"id": i, "image": image or f"geoqa_plus/{i}.png",
            "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]}


def write_tuning(folder, rows):
    (folder / "geoqa_plus").mkdir(parents=True, exist_ok=True)
    for row in rows:
        (folder / row["image"]).write_bytes(DIAGRAM.read_bytes())
    path = folder / "qa_tuning.json"
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def test_qa_tuning_json_becomes_geo_prompts(tmp_path):
    path = write_tuning(tmp_path, [tuning_row(0), tuning_row(7, answer="C")])
    prompts = list(GeoQASource(str(path)).load())
    assert [(p.id, p.reference) for p in prompts] == [("geoqa-0", "B"), ("geoqa-7", "C")]
    first = prompts[0]
    assert first.question == "In triangle ABC, angle A = 80°. Find angle 2."
    assert first.metadata["choices"] == {"A": "40°", "B": "60°", "C": "120°", "D": "140°"}
    assert first.metadata["group"] == "angle" and first.image == str((tmp_path / "geoqa_plus" / "0.png").resolve())
    # A folder holding qa_tuning.json reads the same; limit stops early.
    assert [p.id for p in GeoQASource(str(tmp_path), limit=1).load()] == ["geoqa-0"]


def test_qa_tuning_from_a_save_to_disk_copy_with_image_root(tmp_path):
    datasets = pytest.importorskip("datasets")
    write_tuning(tmp_path / "Geo170K", [tuning_row(0), tuning_row(1, answer="D")])
    rows = json.loads((tmp_path / "Geo170K" / "qa_tuning.json").read_text())
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    prompts = list(GeoQASource(str(tmp_path / "saved"), image_root=str(tmp_path / "Geo170K")).load())
    assert [p.reference for p in prompts] == ["B", "D"]


@pytest.mark.parametrize(("row", "field", "words"), [
    ({"id": 1, "image": "geoqa_plus/1.png", "conversations": "hi"}, "conversations", "list of {from, value}"),
    ({**tuning_row(1), "conversations": [{"from": "human", "value": "<image>\nWhat is AB?"},
                                          {"from": "gpt", "value": "Answer:A"}]}, "conversations", "Choices"),
    ({**tuning_row(1), "conversations": [tuning_row(1)["conversations"][0], {"from": "gpt", "value": "It is 60°."}]},
     "conversations", "no final 'Answer: X'"),
    ({**tuning_row(1), "conversations": tuning_row(1)["conversations"][:1]}, "conversations", "gpt turn"),
    (tuning_row(1, answer="F"), "conversations", "not one of the choices"),
    ({**tuning_row(1), "image": None}, "image", "diagram"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, row, field, words):
    path = write_tuning(tmp_path, [tuning_row(0)])
    path.write_text(json.dumps([tuning_row(0), row]))
    with pytest.raises(InputError, match=words) as err:
        list(GeoQASource(str(path)).load())
    assert (err.value.path, err.value.line, err.value.field) == (str(path), 2, field)


def test_skip_malformed_skips_non_multiple_choice_rows_and_says_so(tmp_path, caplog):
    path = write_tuning(tmp_path, [tuning_row(0), tuning_row(2)])
    rows = json.loads(path.read_text())
    rows.insert(1, tuning_row(1, answer="F"))
    path.write_text(json.dumps(rows))
    with caplog.at_level(logging.WARNING):
        prompts = list(GeoQASource(str(path), skip_malformed=True).load())
    assert [p.id for p in prompts] == ["geoqa-0", "geoqa-2"]
    assert "skipped 1 rows" in caplog.text


def test_missing_diagram_follows_the_policy(tmp_path):
    path = write_tuning(tmp_path, [tuning_row(0)])
    (tmp_path / "geoqa_plus" / "0.png").unlink()
    with pytest.raises(InputError, match="not found") as err:
        list(GeoQASource(str(path)).load())
    assert err.value.field == "image"
    assert list(GeoQASource(str(path), missing_image="skip").load()) == []
    assert [p.image for p in GeoQASource(str(path), missing_image="text-only").load()] == [None]


def test_a_test_questions_file_without_answers_says_so(tmp_path):
    path = tmp_path / "test_questions.jsonl"
    path.write_text(json.dumps({"question_id": 0, "image": "0.png", "text": "Question:q\nChoices:\nA:1\nB:2"}) + "\n")
    with pytest.raises(InputError, match="needs its answers file"):
        list(GeoQASource(str(path)).load())


def test_hub_table_needs_an_image_root_and_passes_hub_options(monkeypatch, tmp_path):
    datasets = pytest.importorskip("datasets")
    with pytest.raises(InputError, match="image_root"):
        list(GeoQASource("Luckyjhg/Geo170K").load())
    write_tuning(tmp_path, [tuning_row(0)])
    seen = []

    def fake_load_dataset(path, **kwargs):
        seen.append((path, kwargs))
        return iter([tuning_row(0)])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    source = GeoQASource("Luckyjhg/Geo170K", image_root=str(tmp_path), data_files="qa_tuning.json", streaming=True)
    assert [p.reference for p in source.load()] == ["B"]
    assert seen == [("Luckyjhg/Geo170K", {"data_files": "qa_tuning.json", "split": "train", "streaming": True})]
