"""Recipes and sweep files are read as untrusted YAML: an alias bomb, deep nesting, a key given
twice, a huge number or file each end in one line naming the file and line, fast, and never in a
traceback or a run that silently takes the last of two values."""

import pytest

from redstar.errors import RecipeError
from redstar.recipe import load_recipe, parse_yaml
from redstar.recipe.safe_yaml import MAX_BYTES, MAX_DEPTH, MAX_NODES
from redstar.sweep.spec import load_sweep

MINIMAL = "models:\n  teacher: embedded:tiny-teacher\n  student: embedded:tiny-student\n"


def alias_bomb(levels=9):
    """The "billion laughs": 9 levels of 9 aliases each expand to 9**9 (387 million) strings."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def refused(tmp_path, text, name="r.yaml"):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    return str(err.value)


def test_an_alias_bomb_is_refused_while_it_is_read(tmp_path, invoke_cli):
    message = refused(tmp_path, alias_bomb() + MINIMAL + "sources: [{name: x, options: {big: *a9}}]\n")
    assert f"more than {MAX_NODES:,} values once its aliases are expanded" in message
    assert message.startswith(f"{tmp_path / 'r.yaml'}:")
    result = invoke_cli(["recipe", "check", str(tmp_path / "r.yaml")], expect_exit=1)
    assert "alias bomb" in result.output and "Traceback" not in result.output and "MemoryError" not in result.output


def test_aliases_within_the_budget_still_work(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "evaluation:\n  options: &opts {batch_size: 8}\nsampling:\n  options: *opts\n")
    recipe = load_recipe(path)
    assert recipe.sampling.options == recipe.evaluation.options == {"batch_size": 8}


def test_an_alias_to_its_own_collection_is_refused(tmp_path):
    message = refused(tmp_path, MINIMAL + "sources: &s [{name: x}, *s]\n")
    assert "refers to a collection it is part of" in message and ":4:" in message


@pytest.mark.parametrize("opening,closing", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path, invoke_cli, opening, closing):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "sources: " + opening * 20_000 + "1" + closing * 20_000 + "\n")
    result = invoke_cli(["recipe", "check", str(path)], expect_exit=1)
    assert f"{path}:4: <yaml>: refused: nested more than {MAX_DEPTH} levels deep" in result.output
    assert "RecursionError" not in result.output and "Traceback" not in result.output


def test_a_key_given_twice_names_both_lines(tmp_path):
    message = refused(tmp_path, MINIMAL + "sampling:\n  n: 4\n  temperature: 0.7\n  n: 8\n")
    assert message == f"{tmp_path / 'r.yaml'}:7: <yaml>: refused: the key 'n' is given twice: on line 5 and on line 7 " \
                      "(remove one)"
    message = refused(tmp_path, "name: a\n" + MINIMAL + "name: b\n")
    assert "the key 'name' is given twice: on line 1 and on line 5" in message


def test_a_merged_key_may_be_overridden(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "evaluation:\n  options: &opts {batch_size: 8, device: cpu}\n"
                    "sampling:\n  options:\n    <<: *opts\n    batch_size: 2\n")
    assert load_recipe(path).sampling.options == {"batch_size": 2, "device": "cpu"}


def test_values_that_cannot_be_built_name_their_line(tmp_path):
    message = refused(tmp_path, MINIMAL + "seed: " + "9" * 5000 + "\n")
    assert message.startswith(f"{tmp_path / 'r.yaml'}:4: <yaml>: invalid YAML: cannot read this value")
    message = refused(tmp_path, MINIMAL + "name: 2024-13-01\n")
    assert ":4: <yaml>: invalid YAML: cannot read this value: month must be in 1..12" in message


def test_a_file_over_the_size_limit_is_not_read(tmp_path):
    message = refused(tmp_path, MINIMAL + "# " + "x" * MAX_BYTES + "\n")
    assert f"larger than {MAX_BYTES:,} bytes" in message


def test_sweep_files_and_their_base_recipe_use_the_same_reader(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(MINIMAL + "seed: 1\nseed: 2\n")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("base: base.yaml\nseeds: [0]\nseeds: [1]\n")
    with pytest.raises(RecipeError, match=r"sweep.yaml:3: <yaml>: refused: the key 'seeds' is given twice"):
        load_sweep(sweep)
    sweep.write_text("base: base.yaml\nvary:\n  - {sampling.n: [2, 4]}\n")
    from redstar.plugins import Host
    from redstar.sweep.variants import expand

    with pytest.raises(RecipeError, match=r"base.yaml:5: <yaml>: refused: the key 'seed' is given twice"):
        expand(load_sweep(sweep), Host(load_entry_points=False))
    sweep.write_text("base: base.yaml\n" + alias_bomb())
    with pytest.raises(RecipeError, match="alias bomb"):
        load_sweep(sweep)


def test_command_line_values_use_the_same_reader(invoke_cli, arith_host):
    result = invoke_cli(["train", "--trainer", "sft", "--model", "m", "--data", __file__, "--out", "o",
                         "--option", "epochs=[1"], expect_exit=2)
    assert "epochs" in result.output and "Traceback" not in result.output
    with pytest.raises(Exception, match="given twice"):
        parse_yaml("{a: 1, a: 2}")


@pytest.mark.parametrize("number", ["0x" + "f" * 5000, "0b" + "1" * 20_000, "-0x" + "f" * 4000])
def test_a_huge_hexadecimal_or_binary_integer_names_its_line(tmp_path, invoke_cli, number):
    # int("9" * 5000) fails as it is read; int("f" * 5000, 16) does not, and every later str() of it did
    # (a ValueError traceback from the recipe check, the sweep's labels and --option).
    message = refused(tmp_path, MINIMAL + f"sources: [{{name: arith-gen, options: {{count: {number}}}}}]\n")
    assert message.startswith(f"{tmp_path / 'r.yaml'}:4: <yaml>: invalid YAML: cannot read this value: an integer of ")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"vary:\n  - {{sampling.n: [2, {number}]}}\n")
    with pytest.raises(RecipeError, match=r"sweep.yaml:2: <yaml>: invalid YAML: cannot read this value"):
        load_sweep(sweep)
    result = invoke_cli(["train", "--trainer", "sft", "--model", "m", "--data", __file__, "--out", "o",
                         "--option", f"epochs={number}"], expect_exit=2)
    assert "epochs: cannot read this value" in result.output and "Traceback" not in result.output


def test_a_large_integer_is_named_without_its_thousand_digits(tmp_path):
    message = refused(tmp_path, MINIMAL + "seed: " + "9" * 1000 + "\n")
    assert message == f"{tmp_path / 'r.yaml'}:4: seed: is too large: an integer of 1000 digits (at most " \
                      "9223372036854775807 in size)"


def test_a_nul_byte_is_one_line_naming_its_line(tmp_path, invoke_cli):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "name: a\x00b\n")
    result = invoke_cli(["recipe", "check", str(path)], expect_exit=1)
    assert result.output.strip().splitlines() == [
        f"Error: {path}:4: <yaml>: invalid YAML: unacceptable character #x0000: special characters are not allowed"]


@pytest.mark.parametrize(("where", "line", "key"), [
    ("models:\n  teacher: embedded:tiny-teacher\n  student: \"a\\ud800\"\n", 3, "models.student"),
    (MINIMAL + "decontamination: {exact_only: [\"\\udfff\"]}\n", 4, "decontamination.exact_only[0]"),
    (MINIMAL + "evaluation: {options: {\"\\ud800\": 1}}\n", 4, "evaluation.options.\\ud800"),
])
def test_a_lone_surrogate_is_not_text(tmp_path, where, line, key):
    # Valid YAML ("\ud800" is an escape), but not Unicode text: the check passed it, and the run died
    # writing it (UnicodeEncodeError) after it had overwritten recipe.yaml.
    message = refused(tmp_path, where)
    assert message.startswith(f"{tmp_path / 'r.yaml'}:{line}: {key}: is not valid text: it holds a lone surrogate")
