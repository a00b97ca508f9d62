"""Shares an author can reason about: ``selection.mix`` takes a count of prompts as well as a
share, ``recipe check`` (and ``recipe show --explain``) says what each domain gets before
anything runs, with the rounding spelled out, and a plugin default that sets the global band is
named."""

import re
from collections import Counter

import pytest

from redstar import hookimpl
from redstar.errors import RecipeError
from redstar.recipe import MixCount, validate
from redstar.records import Prompt
from redstar.selection import explain_mix, select

MODELS = {"teacher": "t", "student": "s"}


def P(domain, i):
    return Prompt(domain=domain, source=domain, question=f"{domain} question number {i}", reference="0", difficulty=8)


def pool(**sizes):
    return [P(domain, i) for domain, size in sizes.items() for i in range(size)]


def kept(report):
    return dict(Counter(p.domain for p in report.kept))


def test_a_count_takes_that_many_prompts_and_the_shares_split_the_rest_of_the_total():
    report = select(pool(math=100, code=100, logic=100), min_level=7, max_level=9, per_source={},
                    mix={"math": 0.6, "code": 0.4}, counts={"logic": 2}, total=22)
    # math keeps its 12 of 20 (60%): adding logic by count cost it nothing
    assert kept(report) == {"math": 12, "code": 8, "logic": 2}


def test_a_small_share_costs_the_others_prompts_and_the_explanation_says_so():
    mix = {"math": 0.6, "code": 0.4, "logic": 0.05}
    report = select(pool(math=100, code=100, logic=100), min_level=7, max_level=9, per_source={}, mix=mix, total=22)
    assert kept(report) == {"math": 13, "code": 8, "logic": 1}  # 12.57, 8.38 and 1.05 of 22
    per_domain, notes = explain_mix(mix, {}, 22)
    assert per_domain == {"math": "13 prompts (57.1% of 22, rounded up from 12.57)",
                          "code": "8 prompts (38.1% of 22, rounded down from 8.38)",
                          "logic": "1 prompt (4.8% of 22, rounded down from 1.05)"}
    assert notes == ["the shares add up to 1.05, not 1: each domain's part is its share divided by 1.05"]


def test_counts_without_a_total_and_shortfalls():
    report = select(pool(math=50, logic=3), min_level=7, max_level=9, per_source={}, mix={},
                    counts={"math": 10, "logic": 5}, total=None)
    assert kept(report) == {"math": 10, "logic": 3} and report.shortfall == {"logic": 2}
    # shares without a total are sized among themselves; the counted domain is apart
    report = select(pool(math=60, code=20, logic=50), min_level=7, max_level=9, per_source={},
                    mix={"math": 0.5, "code": 0.5}, counts={"logic": 7}, total=None)
    assert kept(report) == {"math": 20, "code": 20, "logic": 7}
    # a count is exact in cap mode too
    report = select(pool(math=60, logic=50), min_level=7, max_level=9, per_source={}, mix={"math": 1.0},
                    counts={"logic": 7}, total=None, mix_mode="cap")
    assert kept(report) == {"math": 60, "logic": 7}


def test_a_share_that_rounds_to_nothing_is_named():
    per_domain, notes = explain_mix({"math": 0.98, "logic": 0.02}, {}, 10)
    assert per_domain["logic"] == "0 prompts (2.0% of 10, rounded down from 0.20)"
    assert notes == ["logic gets no prompt from its share 0.02: give it a count ({prompts: N}) or a larger share"]


def test_the_recipe_takes_counts_as_mappings_and_checks_them():
    recipe = validate({"models": MODELS, "selection": {"mix": {"math": 0.6, "logic": {"prompts": 40}}, "total": 100}})
    assert recipe.selection.mix["logic"] == MixCount(prompts=40)
    assert recipe.selection.shares() == {"math": 0.6} and recipe.selection.counts() == {"logic": 40}
    for mix, message in (({"logic": {"prompts": 0}}, "selection.mix.logic.prompts: must be at least 1"),
                         ({"logic": {"prompts": 200}}, "the mix's counts add up to 200 prompts, more than"),
                         ({"logic": {"count": 3}}, "must be a share (a number such as 0.4) or a count of prompts"),
                         ({"math": 0, "logic": 0}, "needs at least one positive share or a count"),
                         # 1e308 and 5e-324 passed the check, then overflowed in the select stage
                         # (OverflowError: cannot convert float infinity to integer)
                         ({"math": 1e308}, "selection.mix.math: a share is a weight from 1e-06 to 1e+06 (or 0 for "
                                           "none), got 1e+308"),
                         ({"math": 0.5, "logic": 5e-324}, "selection.mix.logic: a share is a weight from 1e-06")):
        with pytest.raises(RecipeError, match=re.escape(message)):
            validate({"models": MODELS, "selection": {"mix": mix, "total": 100}})


def test_the_explanation_names_each_domain_once_with_counts_and_shares():
    from redstar.recipe.explain import explain

    recipe = validate({"models": MODELS, "sampling": {"n": 4, "n_by_level": {7: 6}},
                       "selection": {"total": 240, "mix": {"math": 0.6, "code": 0.4, "logic": {"prompts": 40}},
                                     "domains": {"math": {"min_level": 2, "max_level": 9}, "code": {"max_level": 8}}}})
    assert explain(recipe) == [
        "math: levels 2-9 (its own band); 4 responses per prompt, 6 from level 7; 120 prompts (60.0% of 200)",
        "code: levels 7-8 (its own band); 4 responses per prompt, 6 from level 7; 80 prompts (40.0% of 200)",
        "logic: levels 7-9 (the global band); 4 responses per prompt, 6 from level 7; 40 prompts (a count: fewer if "
        "it has fewer in its band)",
        "mix_mode ratio, selection.total 240",
        "the shares split what the counts leave of selection.total: 240 - 40 = 200",
    ]


def test_recipe_check_prints_what_each_domain_gets(tmp_path, invoke_cli, arith_host):
    path = tmp_path / "r.yaml"
    path.write_text("models: {teacher: scripted-teacher, student: scripted-student}\n"
                    "sources: [{name: arith-gen}]\n"
                    "selection: {total: 30, mix: {arith: {prompts: 30}}, domains: {arith: {min_level: 2}}}\n"
                    "sampling: {n: 3, n_by_level: {7: 5}}\n")
    output = invoke_cli(["recipe", "check", str(path)]).output
    assert "# What the selection gives each domain (before any prompt is loaded):" in output
    assert "#   arith: levels 2-9 (its own band); 3 responses per prompt, 5 from level 7; 30 prompts (a count" in output
    assert "#   mix_mode ratio, selection.total 30" in output


class Greedy:
    """A plugin whose default recipe sets the global band, overriding every other domain's."""

    @hookimpl
    def redstar_default_recipe(self):
        return {"sources": [{"name": "arith-gen"}], "selection": {"min_level": 1, "max_level": 3}}


def test_a_plugin_default_that_sets_the_global_band_is_named(invoke_cli, arith_host, register_plugin, tmp_path):
    register_plugin(Greedy(), name="greedy")
    result = invoke_cli(["recipe", "show", "--plugins", "greedy", "--explain"])
    assert "warning: plugin 'greedy' sets the global difficulty band (selection.min_level, selection.max_level)" \
        in " ".join(result.output.split())
    assert "#   arith: levels 1-3 (the global band)" in result.output
    quiet = invoke_cli(["recipe", "show", "--plugins", "arith"])
    assert "warning" not in quiet.output
