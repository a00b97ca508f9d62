import json

import pytest

from redstar.errors import InputError
from redstar_geo.benchmarks import load_geoqa, sample_dir
from redstar_geo.choices import gllava_prompt, parse_gllava_prompt
from redstar_geo.formats.common import GeoItem
from redstar_geo.formats.gllava import read_gllava, write_gllava

INSTRUCTION_ROW = {"question_id": 0, "image": "test/0.png",
                   "text": gllava_prompt("Find angle 2.", {"A": "40°", "B": "50°", "C": "60°", "D": "70°"})}


def write_pair(folder, questions, answers):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    (folder / "test_answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    return folder


def test_bundled_sample_reads_the_published_rows():
    loaded = load_geoqa(None)
    assert len(loaded.prompts) == 8 and loaded.skipped == []
    first = loaded.prompts[0]
    assert first.id == "geoqa-0" and first.domain == "geo" and first.reference == "D"
    assert first.question.startswith("As shown in the figure, in triangle ABC, it is known that angle A = 80.0")
    assert first.metadata["choices"] == {"A": "40°", "B": "60°", "C": "120°", "D": "140°"}
    assert first.metadata["group"] == "angle"
    assert first.image == str((sample_dir("geoqa") / "test" / "0.png").resolve())


def test_prompt_round_trip():
    choices = {"A": "3", "B": "4", "C": "5", "D": "6"}
    assert parse_gllava_prompt(gllava_prompt("What is AB?", choices)) == ("What is AB?", choices)


def test_bad_json_line_names_file_and_line(tmp_path):
    folder = write_pair(tmp_path, [INSTRUCTION_ROW], [{"question_id": 0, "text": "A"}])
    with (folder / "test_questions.jsonl").open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(InputError) as err:
        load_geoqa(folder, missing_image="text-only")
    assert err.value.line == 2 and err.value.path.endswith("test_questions.jsonl")


@pytest.mark.parametrize(("question", "answers", "path_end", "line", "field"), [
    ({**INSTRUCTION_ROW, "text": "Question: no choices here"}, [{"question_id": 0, "text": "A"}],
     "test_questions.jsonl", 1, "text"),
    (INSTRUCTION_ROW, [{"question_id": 1, "text": "A"}], "test_questions.jsonl", 1, "question_id"),
    (INSTRUCTION_ROW, [{"question_id": 0, "text": "E"}], "test_answers.jsonl", 1, "text"),
    (INSTRUCTION_ROW, [{"question_id": 0, "text": "the first"}], "test_answers.jsonl", 1, "text"),
    ({**INSTRUCTION_ROW, "image": 5}, [{"question_id": 0, "text": "A"}], "test_questions.jsonl", 1, "image"),
])
def test_malformed_rows_raise_input_errors(tmp_path, question, answers, path_end, line, field):
    folder = write_pair(tmp_path, [question], answers)
    with pytest.raises(InputError) as err:
        load_geoqa(folder, missing_image="text-only")
    assert err.value.path.endswith(path_end) and err.value.line == line and err.value.field == field


def test_missing_diagram_policies(tmp_path):
    rows = [INSTRUCTION_ROW, {**INSTRUCTION_ROW, "question_id": 1, "image": "test/1.png"}]
    folder = write_pair(tmp_path, rows, [{"question_id": 0, "text": "A"}, {"question_id": 1, "text": "B"}])
    (folder / "test").mkdir()
    (folder / "test" / "1.png").write_bytes((sample_dir("geoqa") / "test" / "1.png").read_bytes())
    with pytest.raises(InputError) as err:
        load_geoqa(folder)
    assert err.value.line == 1 and err.value.field == "image"
    skipped = load_geoqa(folder, missing_image="skip")
    assert [p.id for p in skipped.prompts] == ["geoqa-1"] and skipped.skipped == ["0"]
    kept = load_geoqa(folder, missing_image="text-only")
    assert [p.image is None for p in kept.prompts] == [True, False]
    with pytest.raises(ValueError):
        load_geoqa(folder, missing_image="ignore")


def test_questions_file_needs_its_answers(tmp_path):
    folder = write_pair(tmp_path, [INSTRUCTION_ROW], [{"question_id": 0, "text": "A"}])
    with pytest.raises(InputError):
        load_geoqa(folder / "test_questions.jsonl")
    loaded = load_geoqa(folder / "test_questions.jsonl", answers=folder / "test_answers.jsonl",
                        missing_image="text-only")
    assert loaded.prompts[0].reference == "A"


def test_writer_emits_what_the_reader_reads(tmp_path):
    image = sample_dir("geoqa") / "test" / "2.png"
    items = [GeoItem("q7", "Find x.", {"A": "1", "B": "2", "C": "3", "D": "4"}, "C", image)]
    write_gllava(tmp_path, items)
    [prompt] = read_gllava(tmp_path / "test_questions.jsonl", tmp_path / "test_answers.jsonl", tmp_path).prompts
    assert (prompt.id, prompt.question, prompt.reference) == ("geoqa-q7", "Find x.", "C")
    assert prompt.metadata["choices"] == items[0].choices
    assert (tmp_path / "images" / "q7.png").read_bytes() == image.read_bytes()


def test_shared_geoqa_test_set(shared_geo):
    folder = shared_geo / "geoqa_test"
    loaded = read_gllava(folder / "test_questions.jsonl", folder / "test_answers.jsonl", folder / "images",
                         missing_image="skip")
    assert len(loaded.prompts) == 566 and len(loaded.skipped) == 188
    answers = {json.loads(line)["question_id"]: json.loads(line)["answer"]
               for line in (folder / "subset_with_images.jsonl").read_text().splitlines()}
    assert all(p.reference == answers[int(p.metadata["question_id"])] for p in loaded.prompts)
