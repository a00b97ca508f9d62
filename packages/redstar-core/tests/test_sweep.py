"""The sweep file and its grid: shapes it accepts, errors that name file, line and key, the
variants' recipes (validated before anything runs), and the steps ``--dry-run`` says they share."""

import pytest

from redstar.errors import RecipeError
from redstar.sweep import expand, load_sweep
from redstar.sweep.sharing import shared_steps, step_keys
from redstar.sweep.variants import assign

BASE = """
name: arith
models: {teacher: scripted-teacher, student: scripted-student}
sources: [{name: arith-gen, options: {count: 30}}]
selection: {min_level: 1, max_level: 10}
sampling: {backend: scripted, n: 2, chunk_size: 4}
sft: null
rl: [{trainer: sft, options: {epochs: 1}}]
evaluation: {evaluators: [{name: arith-heldout, options: {count: 4}}]}
"""


def write(tmp_path, sweep, base=BASE):
    (tmp_path / "recipes").mkdir(exist_ok=True)
    (tmp_path / "recipes" / "base.yaml").write_text(base)
    path = tmp_path / "sweeps" / "s.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(sweep)
    return path


def test_grid_of_axes_times_seeds_each_with_its_values(tmp_path, arith_host):
    path = write(tmp_path, """\
base: ../recipes/base.yaml
seeds: [0, 1]
set: {sampling.max_new_tokens: 64}
vary:
  - selection.total: [6, 12]
  - {label: [easy, hard], selection.min_level: [1, 5], selection.max_level: [4, 10]}
""")
    spec = load_sweep(path)
    assert spec.name == "s" and [a.title for a in spec.axes] == ["selection.total", "selection.min_level, selection.max_level"]
    variants = expand(spec, arith_host)
    assert len(variants) == 2 * 2 * 2
    slugs = [v.slug for v in variants]
    assert len(set(slugs)) == 8 and slugs[0] == "total-6_easy_seed-0" and slugs[-1] == "total-12_hard_seed-1"
    hard = next(v for v in variants if v.slug == "total-12_hard_seed-1")
    r = hard.recipe
    assert (r.selection.total, r.selection.min_level, r.selection.max_level, r.seed) == (12, 5, 10, 1)
    assert r.sampling.max_new_tokens == 64 and r.sampling.n == 2  # set for all; the base's own kept
    assert r.name == "s-total-12_hard_seed-1"


def test_listed_axis_and_indexed_keys(tmp_path, arith_host):
    path = write(tmp_path, """\
base: ../recipes/base.yaml
vary:
  - - {label: SFT only, rl: []}
    - label: + second
      rl[0].options.epochs: 2          # in block style a key may hold [i]; in {...} quote it
""")
    variants = expand(load_sweep(path), arith_host)
    assert [v.slug for v in variants] == ["sft-only_seed-0", "second_seed-0"]
    assert variants[0].recipe.rl == [] and variants[1].recipe.rl[0].options == {"epochs": 2}


def test_assign_creates_mappings_and_refuses_missing_list_items():
    data = {"rl": [{"trainer": "dpo"}]}
    assign(data, "selection.domains.math.n", 3)
    assign(data, "rl[0].trainer", "ppo")
    assert data == {"rl": [{"trainer": "ppo"}], "selection": {"domains": {"math": {"n": 3}}}}
    with pytest.raises(ValueError, match=r"\[1\] does not exist"):
        assign(data, "rl[1].trainer", "grpo")


@pytest.mark.parametrize("text, where, key, message", [
    ("vary:\n  - selection.totl: [1, 2]\n", ":2", "selection.totl", "unknown key"),
    ("vary:\n  - selection.total: [1, two]\n", ":2", "selection.total", "must be integer"),
    ("seeds: [0, 0]\n", ":1", "seeds", "twice"),
    ("vary:\n  - selection.total: 5\n", ":2", "vary[0].selection.total", "list of values"),
    ("vary:\n  - {selection.min_level: [1, 2], selection.max_level: [3]}\n", ":2", "vary[0]", "equally many"),
    ("colour: red\n", ":1", "colour", "unknown key"),
    ("vary:\n  - seed: [1, 2]\n", ":2", "vary[0].seed", "seeds:"),
    ("vary:\n  - sampling.n: [1, 2]\n  - sampling: [{n: 3}]\n", ":3", "vary[1]", "also varied"),
    ("vary:\n  - rl[3].trainer: [dpo, ppo]\n", ":2", "rl[3].trainer", "does not exist"),
    ("vary:\n  - [{label: a, sampling.n: 2}, {label: a, sampling.n: 3}]\n", ":2", "vary[0]", "label 'a'"),
    ("vary:\n  - - {sampling.top_p: 0.5}\n    - {sampling.top_p: 2.0}\n", ":3", "sampling.top_p", "(0, 1]"),
])
def test_errors_name_the_sweep_file_line_and_key(tmp_path, arith_host, text, where, key, message):
    path = write(tmp_path, "base: ../recipes/base.yaml\n" + text)
    with pytest.raises(RecipeError) as info:
        expand(load_sweep(path), arith_host)
    line = int(where[1:]) + 1  # the base line comes first
    assert info.value.key == key
    assert str(info.value).startswith(f"{path}:{line}: {key}: ") and message in str(info.value)


def test_an_error_in_the_base_recipe_names_the_base_file(tmp_path, arith_host):
    path = write(tmp_path, "base: ../recipes/base.yaml\nvary:\n  - sampling.n: [1, 2]\n",
                 base=BASE.replace("chunk_size: 4", "chunk_size: 0"))
    with pytest.raises(RecipeError, match=r"base\.yaml:6: sampling\.chunk_size: must be at least 1.*variant n-1"):
        expand(load_sweep(path), arith_host)


def test_base_not_found_and_default_with_plugins(tmp_path, arith_host):
    with pytest.raises(RecipeError, match=r"s\.yaml:1: base: recipe .*nope\.yaml not found"):
        load_sweep(write(tmp_path, "base: nope.yaml\n"))
    spec = load_sweep(write(tmp_path, "plugins: [arith]\nseeds: 3\nvary:\n  - selection.total: [4, 8]\n"))
    variants = expand(spec, arith_host)
    assert [v.recipe.seed for v in variants] == [3, 3]
    assert variants[0].recipe.sources[0].name == "arith-gen"  # the arith plugin's embedded default


def test_dry_run_sharing_follows_the_fingerprints(tmp_path, arith_host):
    path = write(tmp_path, """\
base: ../recipes/base.yaml
seeds: [0, 1]
vary:
  - selection.total: [6, 12]
""")
    variants = expand(load_sweep(path), arith_host)
    shared = dict(shared_steps(variants, arith_host))
    # the sizes of one seed share loading, scoring and sampling, not the selection or training;
    # seeds share only what does not depend on the seed
    assert shared["sample"] == [["total-6_seed-0", "total-12_seed-0"], ["total-6_seed-1", "total-12_seed-1"]]
    assert shared["load"] == [[v.slug for v in variants]]
    assert "select" not in shared and "train:rl:0" not in shared
    # the untrained student is evaluated once per seed
    assert shared["eval:base:arith-heldout"] == shared["sample"]
    keys = step_keys(variants[0], arith_host)
    assert keys["train:rl:0"] != step_keys(variants[1], arith_host)["train:rl:0"]


CHOOSE = "vary:\n  - - label: fixed\n      sampling.n: 1\n    - label: tuned\n      choose: {sampling.top_p: [0.5, 0.9]}\n"


@pytest.mark.parametrize("text, where, key, message", [
    (CHOOSE, ":2", "vary[0]", "no `select:`"),
    ("select: {on: validation}\nvary:\n  - sampling.n: [1, 2]\n", ":1", "select", "nothing to select"),
    (CHOOSE + "select: {on: heldout}\n", ":6", "select.on", "must be one of validation"),
    (CHOOSE + "select: {metric: majority}\n", ":6", "select.metric", "must be one of pass@1"),
    (CHOOSE + "select: {by: pass@1}\n", ":6", "select.by", "unknown key"),
    (CHOOSE.replace("[0.5, 0.9]", "[0.5]") + "select: {}\n", ":5", "vary[0][1].choose.sampling.top_p",
     "at least two values"),
    (CHOOSE.replace("sampling.top_p: [0.5, 0.9]", "sampling.top_p: [0.5, 0.9], sampling.n: [1, 2, 3]")
     + "select: {}\n", ":5", "vary[0][1].choose", "equally many"),
    (CHOOSE.replace("label: tuned\n", "label: tuned\n      sampling.top_p: 0.7\n") + "select: {}\n", ":6",
     "vary[0][1].choose.sampling.top_p", "set by the value itself"),
    ("vary:\n  - {selection.total: [6, 12], choose: {sampling.n: [1, 2]}}\nselect: {}\n", ":2", "vary[0].choose",
     "listed axis"),
    (CHOOSE + "  - sampling.top_p: [0.3, 0.4]\nselect: {}\n", ":6", "vary[1]", "also varied"),
    (CHOOSE.replace("label: tuned\n", "label: tuned\n      sampling.top_p: 0.7\n").replace(
        "choose: {sampling.top_p: [0.5, 0.9]}", "choose: {sampling: [{n: 1}, {n: 2}]}") + "select: {}\n", ":6",
     "vary[0][1].choose.sampling", "set by the value itself"),
    (CHOOSE + "select: {on: validation}\n", ":6", "select", "no evaluation.validation sets"),
])
def test_choose_and_select_errors_name_the_line_and_key(tmp_path, arith_host, text, where, key, message):
    test_errors_name_the_sweep_file_line_and_key(tmp_path, arith_host, text, where, key, message)


def test_candidates_expand_per_seed_and_bare_on_means_on(tmp_path, arith_host):
    base = BASE.replace("evaluation: {evaluators: [{name: arith-heldout, options: {count: 4}}]}",
                        "evaluation:\n  evaluators: [{name: arith-heldout, options: {count: 4}}]\n"
                        "  validation: [{name: arith-heldout, options: {count: 4, start: 5000}}]")
    path = write(tmp_path, "base: ../recipes/base.yaml\nseeds: [0, 1]\n" + CHOOSE + "select:\n  on: validation\n",
                 base=base)
    spec = load_sweep(path)
    assert spec.select.on == "validation" and spec.select.metric == "pass@1"  # YAML's `on` is read as true
    variants = expand(spec, arith_host)
    assert [v.slug for v in variants] == ["fixed_seed-0", "fixed_seed-1", "tuned_top-p-0-5_seed-0",
                                          "tuned_top-p-0-5_seed-1", "tuned_top-p-0-9_seed-0", "tuned_top-p-0-9_seed-1"]
    assert [v.recipe.sampling.top_p for v in variants] == [1.0, 1.0, 0.5, 0.5, 0.9, 0.9]
    assert [v.candidates for v in variants] == [1, 1, 2, 2, 2, 2]
    assert variants[2].title == "tuned, top_p=0.5, seed 0"


def test_a_candidate_refines_what_its_value_sets(tmp_path, arith_host):
    path = write(tmp_path, "base: ../recipes/base.yaml\nvary:\n  - - label: plain\n      rl: []\n"
                           "    - label: dpo\n      rl: [{trainer: dpo, options: {beta: 0.3}}]\n      choose:\n"
                           "        rl[0].options.learning_rate: [1.0e-5, 1.0e-4]\nselect: {}\n",
                 base=BASE.replace("options: {count: 4}}]}", "options: {count: 4}}], validation: [{name: arith-heldout, "
                                   "options: {count: 4, start: 5000}}]}"))
    variants = expand(load_sweep(path), arith_host)
    assert [(v.slug, [s.to_dict()["options"] for s in v.recipe.rl]) for v in variants] == [
        ("plain_seed-0", []),
        ("dpo_learning-rate-1e-05_seed-0", [{"beta": 0.3, "learning_rate": 1e-5}]),
        ("dpo_learning-rate-0-0001_seed-0", [{"beta": 0.3, "learning_rate": 1e-4}])]
