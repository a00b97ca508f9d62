import json

import pytest

from redstar.errors import InputError
from redstar_geo.benchmarks import load_mathvista_geo, sample_dir
from redstar_geo.formats.common import GeoItem
from redstar_geo.formats.mathvista import read_mathvista, write_mathvista


def test_bundled_sample_letters_and_image_suffix_fallback():
    prompts = {p.id: p for p in load_mathvista_geo(None).prompts}
    assert len(prompts) == 8
    first = prompts["mathvista-geo-3"]
    assert first.reference == "C" and first.metadata["choices"]["C"] == "145°"  # answer text -> letter
    assert first.metadata["group"] == "GeoQA+" and first.metadata["language"] == "chinese"
    assert first.image.endswith("images/3.png")  # the row says images/3.jpg
    duplicate = prompts["mathvista-geo-781"]
    assert duplicate.metadata["choices"] == {"A": "9", "B": "12", "C": "18", "D": "18"} and duplicate.reference == "C"


def rows(**changes):
    base = {"question": "Find x.", "image": "images/1.png", "choices": ["10", "20", "30", "40"], "answer": "30",
            "question_type": "multi_choice", "answer_type": "text", "pid": "1",
            "metadata": {"task": "geometry problem solving", "source": "GEOS"}}
    other = {**base, "pid": "2", "metadata": {"task": "figure question answering", "source": "X"}}
    return {"1": {**base, **changes}, "2": other}


def write(tmp_path, data):
    (tmp_path / "images").mkdir(exist_ok=True)
    (tmp_path / "images" / "1.png").write_bytes((sample_dir("geoqa") / "test" / "0.png").read_bytes())
    (tmp_path / "testmini.json").write_text(json.dumps(data))
    return tmp_path


def test_task_selection_and_free_form_rows(tmp_path):
    folder = write(tmp_path, rows(question_type="free_form", choices=None, answer_type="integer"))
    [prompt] = read_mathvista(folder).prompts  # row 2 is another task
    assert prompt.metadata["choices"] == {} and prompt.reference == "30"
    assert [p.metadata["pid"] for p in read_mathvista(folder, task="").prompts] == ["1", "2"]  # every task


@pytest.mark.parametrize(("changes", "field"), [
    ({"answer": "35"}, "1.answer"),
    ({"choices": None}, "1.choices"),
    ({"question_type": "yes_no"}, "1.question_type"),
    ({"question": ""}, "1.question"),
    ({"metadata": None}, "1.metadata"),
])
def test_bad_rows_name_pid_and_field(tmp_path, changes, field):
    with pytest.raises(InputError) as err:
        read_mathvista(write(tmp_path, rows(**changes)))
    assert err.value.field == field and err.value.path.endswith("testmini.json")


def test_writer_round_trip(tmp_path):
    image = sample_dir("geoqa") / "test" / "0.png"
    item = GeoItem("s1", "Find z.", {"A": "1°", "B": "2°", "C": "3°", "D": "4°"}, "B", image)
    path = write_mathvista(tmp_path / "testmini.json", [item])
    assert json.loads(path.read_text())["s1"]["answer"] == "2°"
    [prompt] = read_mathvista(path).prompts
    assert prompt.reference == "B" and prompt.metadata["choices"] == item.choices


def test_shared_mathvista_geo(shared_geo):
    folder = shared_geo / "mathvista_testmini_geo"
    everything = read_mathvista(folder / "testmini.json", missing_image="text-only")
    assert len(everything.prompts) == 208
    assert sum(not p.metadata["choices"] for p in everything.prompts) == 5
    with_images = read_mathvista(folder / "testmini.json", missing_image="skip")
    assert len(with_images.prompts) == 73 and len(with_images.skipped) == 135
