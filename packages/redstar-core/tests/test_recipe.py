import pytest

from redstar.errors import RecipeError
from redstar.recipe import BASE_RECIPE, default_recipe, load_recipe, merge_parts, validate

MINIMAL = "models:\n  teacher: embedded:tiny-teacher\n  student: embedded:tiny-student\n"


def test_defaults_are_filled(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL)
    recipe = load_recipe(path)
    assert recipe.selection.min_level == 7 and recipe.selection.max_level == 9
    assert recipe.sampling.backend == "transformers"
    assert [f.name for f in recipe.cleaning.filters] == ["repetition", "language"]


def test_unknown_key_names_file_line_and_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "sampling:\n  temprature: 0.7\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert err.value.key == "sampling.temprature"
    assert f"{path}:5" in str(err.value) and "unknown key" in str(err.value)


def test_wrong_type_names_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "sampling:\n  n: four\n")
    with pytest.raises(RecipeError, match=r"sampling\.n: must be integer"):
        load_recipe(path)


def test_bool_is_not_a_number(tmp_path):
    with pytest.raises(RecipeError, match="selection.min_level"):
        validate({"models": {"teacher": "a", "student": "b"}, "selection": {"min_level": True}})


def test_missing_models_is_reported():
    with pytest.raises(RecipeError, match="models.teacher"):
        validate({})


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "sources: [\n")
    with pytest.raises(RecipeError, match="invalid YAML"):
        load_recipe(path)


def test_merge_concatenates_lists_and_rejects_conflicts():
    merged = merge_parts(BASE_RECIPE, [
        ("math", {"sources": [{"name": "a"}], "selection": {"mix": {"math": 0.5}}}),
        ("code", {"sources": [{"name": "b"}], "selection": {"mix": {"code": 0.5}}}),
    ])
    assert [s["name"] for s in merged["sources"]] == ["a", "b"]
    assert merged["selection"]["mix"] == {"math": 0.5, "code": 0.5}
    with pytest.raises(RecipeError, match="'math' and 'geo'"):
        merge_parts(BASE_RECIPE, [("math", {"sampling": {"backend": "x"}}), ("geo", {"sampling": {"backend": "y"}})])


def test_default_recipe_comes_from_plugins(arith_host):
    recipe = default_recipe(arith_host)
    assert recipe.sources[0].name == "arith-gen"
    assert recipe.name == "default-arith"


def test_exponent_floats_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "sft: {trainer: sft, options: {learning_rate: 5e-7}}\nsampling: {temperature: 1e0}\n")
    recipe = load_recipe(path)
    assert recipe.sft.options["learning_rate"] == 5e-7
    assert recipe.sampling.temperature == 1.0


def test_a_part_that_sets_rl_replaces_the_default_dpo(arith_host, register_plugin):
    from redstar import hookimpl
    from redstar.interfaces import Trainer

    class NameOnlyDPO(Trainer):  # only its registered name matters to recipe assembly
        name = "dpo"
        kind = "preference"

        def train(self, ctx):
            raise NotImplementedError

    class RL:
        @hookimpl
        def redstar_register_trainers(self, register):
            register(NameOnlyDPO)

        @hookimpl
        def redstar_default_rl(self):
            return [{"trainer": "dpo", "options": {}}]

    register_plugin(RL(), name="rl")
    assert [r.trainer for r in default_recipe(arith_host).rl] == ["dpo"]

    class NoRL:
        @hookimpl
        def redstar_default_recipe(self):
            return {"rl": []}

    register_plugin(NoRL(), name="images")
    assert default_recipe(arith_host).rl == []


@pytest.mark.parametrize(("extra", "message"), [
    ("sampling: {temperature: .inf}\n", "4: sampling.temperature: must be a finite number, got inf"),
    ("evaluation: {top_p: -.inf}\n", "4: evaluation.top_p: must be a finite number, got -inf"),
    ("sft: {trainer: sft, options: {learning_rate: .nan}}\n", "4: sft.options.learning_rate: must be a finite number"),
    ("seed: 1000000000000000000000000000000\n", "4: seed: is too large"),
    ("seed: 4294967296\n", "4: seed: must be from 0 to 4294967295"),
    ("seed: -1\n", "4: seed: must be from 0 to 4294967295"),
    ("name: ''\n", "4: name: must be a plain name"),
    ("name: runs/../../etc\n", "4: name: must be a plain name"),
    ("sampling:\n  n_by_level: {99: 3}\n", "5: sampling.n_by_level.99: 99 is not a difficulty level"),
    ("sampling:\n  n_by_level: {eleven: 3}\n", "5: sampling.n_by_level.eleven: 'eleven' is not a difficulty level"),
    ("sampling:\n  n_by_level: {7: 0}\n", "5: sampling.n_by_level.7: must be from 1 to 100000, got 0"),
    ("sampling: {n: 1000000000}\n", "4: sampling.n: must be from 1 to 100000"),
    ("selection: {max_level: 90}\n", "4: selection.max_level: is not a difficulty level"),
    ("selection:\n  mix: {1: 0.5}\n", "5: selection.mix.1: the key 1 must be string"),
    ("selection:\n  per_source: {[a]: 3}\n", "invalid YAML"),
    ("verifiers: {3: {timeout: 1}}\n", "4: verifiers.3: the key 3 must be string"),
    ("sources: [{name: s, options: {7: x}}]\n", "4: sources[0].options.7: the key 7 must be string"),
])
def test_every_value_and_every_key_is_checked_with_its_line(tmp_path, extra, message):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + extra)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert str(err.value).startswith(f"{path}:") and message in str(err.value), str(err.value)
