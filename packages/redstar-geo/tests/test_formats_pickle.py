import pickle

import numpy as np
import pytest
from PIL import Image

from redstar.errors import InputError
from redstar_geo.benchmarks import load_geoqa
from redstar_geo.formats.geoqa_pickle import format_number, read_geoqa_pickle


def record(**overrides):
    diagram = np.full((30, 40), 255, dtype=np.uint8)
    diagram[10, 5:35] = 0  # a line
    base = {"id": 17, "image": diagram, "token_list": ["如图", ",", "∠", "1", "=", "N_0", ",", "则", "∠", "2", "=", "(", ")"],
            "numbers": [50.0], "choice_nums": [40.0, 50.0, 130.0, 2.5], "label": 2,
            "manual_program": ["g_minus", "C_3", "N_0"], "formal_point": ["邻补角"]}
    return {**base, **overrides}


def dump(path, records):
    path.write_bytes(pickle.dumps(records))
    return path


def test_reads_geoqa_pickles_and_writes_their_diagrams(tmp_path):
    path = dump(tmp_path / "test.pk", [record(), record(id=18, English_problem="Find angle 2.", label=0)])
    loaded = read_geoqa_pickle(path, tmp_path / "images")
    first, second = loaded.prompts
    assert first.question == "如图,∠1=50,则∠2=()"  # N_0 replaced by its number
    assert first.metadata["choices"] == {"A": "40", "B": "50", "C": "130", "D": "2.5"}
    assert first.reference == "C" and first.id == "geoqa-17" and first.metadata["group"] == "邻补角"
    assert second.question == "Find angle 2." and second.reference == "A"
    image = Image.open(first.image)
    assert image.size == (40, 30) and image.getpixel((20, 10)) == 0 and image.getpixel((0, 0)) == 255


def test_load_geoqa_dispatches_pickles(tmp_path):
    path = dump(tmp_path / "train.pk", [record()])
    loaded = load_geoqa(path, image_dir=tmp_path / "diagrams")
    assert loaded.prompts[0].image == str((tmp_path / "diagrams" / "17.png").resolve())


@pytest.mark.parametrize(("overrides", "field"), [
    ({"label": 4}, "label"),
    ({"label": True}, "label"),
    ({"choice_nums": ["forty", 50]}, "choice_nums"),
    ({"token_list": "not a list"}, "token_list"),
])
def test_bad_records_name_the_record_and_field(tmp_path, overrides, field):
    path = dump(tmp_path / "test.pk", [record(), record(id=18, **overrides)])
    with pytest.raises(InputError) as err:
        read_geoqa_pickle(path, tmp_path / "images")
    assert err.value.line == 2 and err.value.field == field


def test_missing_key_and_unreadable_files(tmp_path):
    broken = record()
    del broken["numbers"]
    with pytest.raises(InputError) as err:
        read_geoqa_pickle(dump(tmp_path / "a.pk", [broken]), tmp_path / "images")
    assert err.value.field == "numbers" and err.value.line == 1
    (tmp_path / "b.pk").write_bytes(b"not a pickle")
    with pytest.raises(InputError):
        read_geoqa_pickle(tmp_path / "b.pk", tmp_path / "images")
    with pytest.raises(InputError):
        read_geoqa_pickle(dump(tmp_path / "c.pk", {"not": "a list"}), tmp_path / "images")


def test_format_number():
    assert [format_number(v) for v in (40.0, 2.5, 1 / 3, 7)] == ["40", "2.5", "0.3333", "7"]
