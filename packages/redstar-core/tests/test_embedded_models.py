"""Embedded models come from plugins through ``redstar_embedded_models``: core's tiny models are
declared that way too, and a third-party plugin ships its own without touching core."""

from __future__ import annotations

import pytest

from redstar import hookimpl
from redstar.errors import PluginError, RedStarError
from redstar.models import embedded_model_dir, resolve_model
from redstar.plugins import DuplicateRegistration


def model_folder(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"model_type": "qwen2"}')
    return path


class Declares:
    """A plugin object whose hook answers ``declared``."""

    def __init__(self, declared):
        self.declared = declared

    @hookimpl
    def redstar_embedded_models(self):
        return self.declared


def test_core_models_resolve_through_core_builtin_plugin(redstar_host):
    for name in ("tiny-teacher", "tiny-student"):
        folder = resolve_model(f"embedded:{name}")
        assert folder.endswith(name)
        assert redstar_host.embedded_models()[name].plugin == "core:models"


def test_a_third_party_plugin_ships_a_model_by_name(redstar_host, register_plugin, tmp_path):
    folder = model_folder(tmp_path / "weights" / "v3")
    register_plugin(Declares({"dice-tiny": folder}), name="dice")
    assert resolve_model("embedded:dice-tiny") == str(folder)
    assert resolve_model("embedded:tiny-student").endswith("tiny-student")  # core's still there
    assert "redstar_embedded_models" in redstar_host.infos["dice"].hooks


def test_a_third_party_plugin_ships_a_folder_of_models(register_plugin, tmp_path):
    a = model_folder(tmp_path / "models" / "dice-a")
    (tmp_path / "models" / "notes").mkdir()  # no config.json: not a model
    register_plugin(Declares([tmp_path / "models"]), name="dice")
    assert embedded_model_dir("dice-a") == a
    with pytest.raises(RedStarError, match="'notes' is not installed"):
        embedded_model_dir("notes")


def test_a_missing_model_lists_what_is_available(register_plugin, tmp_path):
    register_plugin(Declares({"dice-tiny": model_folder(tmp_path / "m")}), name="dice")
    with pytest.raises(RedStarError) as info:
        resolve_model("embedded:nope")
    message = str(info.value)
    assert "'nope' is not installed" in message
    assert "dice-tiny (dice), tiny-student (core:models), tiny-teacher (core:models)" in message
    assert "redstar_embedded_models" in message


def test_a_declared_but_unbuilt_model_says_so(register_plugin, tmp_path):
    register_plugin(Declares({"dice-tiny": tmp_path / "empty"}), name="dice")
    with pytest.raises(RedStarError, match=r"'dice-tiny' \(declared by plugin 'dice'\) has no config.json"):
        resolve_model("embedded:dice-tiny")


def test_models_are_looked_up_in_the_host_given(tmp_path):
    from redstar.plugins import Host

    host = Host(load_entry_points=False)
    host.register(Declares({"dice-tiny": model_folder(tmp_path / "m")}), name="dice")
    assert resolve_model("embedded:dice-tiny", host) == str(tmp_path / "m")


def test_two_plugins_declaring_one_name_is_an_error_naming_both(redstar_host, register_plugin, tmp_path):
    register_plugin(Declares({"tiny-teacher": model_folder(tmp_path / "m")}), name="dice")
    with pytest.raises(DuplicateRegistration, match="'tiny-teacher' is registered by both 'core:models' and 'dice'"):
        resolve_model("embedded:tiny-teacher")


def test_a_bad_answer_is_the_plugins_failure_not_the_hosts(redstar_host, register_plugin):
    register_plugin(Declares("models/"), name="dice")
    assert resolve_model("embedded:tiny-teacher").endswith("tiny-teacher")
    assert "expected a dict of name -> folder" in redstar_host.failures["dice"]
    assert isinstance(DuplicateRegistration("model", "x", "a", "b"), PluginError)
