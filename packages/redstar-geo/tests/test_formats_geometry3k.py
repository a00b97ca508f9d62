import json

import pytest

from redstar.errors import InputError
from redstar_geo.benchmarks import load_geometry3k, sample_dir
from redstar_geo.formats.common import GeoItem
from redstar_geo.formats.geometry3k import read_geometry3k, write_geometry3k


def test_bundled_sample_in_id_order_with_shape_groups():
    prompts = load_geometry3k(None).prompts
    assert [p.id for p in prompts] == [f"geometry3k-{i}" for i in (2401, 2427, 2455, 2502, 2576, 2950)]
    second = prompts[1]
    assert second.question == "Find x." and second.reference == "A"
    assert second.metadata["choices"]["B"] == "3 \\sqrt { 2 }"
    assert second.metadata["group"] == "Triangle"
    assert second.image.endswith("2427/img_diagram_point.png")


def problem(root, pid, **data):
    folder = root / "test" / str(pid)
    folder.mkdir(parents=True)
    base = {"problem_text": "Find x.", "choices": ["1", "2", "3", "4"], "answer": "B", "id": pid}
    (folder / "data.json").write_text(json.dumps({**base, **data}))
    (folder / "img_diagram.png").write_bytes((sample_dir("geoqa") / "test" / "0.png").read_bytes())
    return folder


@pytest.mark.parametrize(("data", "field"), [
    ({"answer": "E"}, "answer"),
    ({"choices": "1, 2"}, "choices"),
    ({"problem_text": ""}, "problem_text"),
])
def test_bad_data_json_names_file_and_field(tmp_path, data, field):
    problem(tmp_path, 2401)
    bad = problem(tmp_path, 2402, **data)
    with pytest.raises(InputError) as err:
        read_geometry3k(tmp_path)
    assert err.value.path == str(bad / "data.json") and err.value.field == field


def test_invalid_json_and_missing_diagram(tmp_path):
    folder = problem(tmp_path, 5)
    (folder / "img_diagram.png").unlink()
    with pytest.raises(InputError) as err:
        read_geometry3k(tmp_path)
    assert err.value.field == "image"
    assert read_geometry3k(tmp_path, missing_image="skip").skipped == ["5"]
    (folder / "data.json").write_text("{")
    with pytest.raises(InputError) as err:
        read_geometry3k(tmp_path)
    assert err.value.line == 1


def test_split_folder_or_problem_folders_directly(tmp_path):
    problem(tmp_path, 10)
    problem(tmp_path, 9)
    assert [p.id for p in read_geometry3k(tmp_path).prompts] == ["geometry3k-9", "geometry3k-10"]
    assert len(read_geometry3k(tmp_path / "test").prompts) == 2
    with pytest.raises(InputError):
        read_geometry3k(tmp_path, split="val")


def test_writer_emits_the_interGPS_layout(tmp_path):
    image = sample_dir("geoqa") / "test" / "0.png"
    item = GeoItem("7", "Find y.", {"A": "5", "B": "6", "C": "7", "D": "8"}, "D", image,
                   extra={"problem_type_graph": ["Circle"]})
    write_geometry3k(tmp_path, [item])
    data = json.loads((tmp_path / "test" / "7" / "data.json").read_text())
    assert data["choices"] == ["5", "6", "7", "8"] and data["answer"] == "D" and data["problem_type_graph"] == ["Circle"]
    [prompt] = read_geometry3k(tmp_path).prompts
    assert (prompt.reference, prompt.metadata["group"]) == ("D", "Circle")


def test_shared_geometry3k_choice_subset(shared_geo):
    loaded = read_geometry3k(shared_geo / "geometry3k_test" / "mc_subset", diagram="img_diagram_point.png")
    assert len(loaded.prompts) == 24
    assert all(p.reference in p.metadata["choices"] for p in loaded.prompts)
