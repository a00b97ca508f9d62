from collections import Counter

import pytest

from redstar.decontamination import BenchmarkIndex, decontaminate
from redstar.recipe import DomainSelection
from redstar.records import Prompt
from redstar.selection import DomainRule, domain_quotas, samples_for, samples_for_level, select


def P(domain, source, i, level):
    return Prompt(domain=domain, source=source, question=f"{domain} question number {i}", reference="0", difficulty=level)


def test_band_and_reasons():
    prompts = [P("math", "a", i, lvl) for i, lvl in enumerate([3, 7, 8, 9, 10, 7])]
    report = select(prompts, min_level=7, max_level=9, per_source={}, mix={}, total=None)
    assert sorted(p.difficulty for p in report.kept) == [7, 7, 8, 9]
    assert report.dropped == Counter({"too easy": 1, "too hard": 1})


def test_per_source_cap_and_mix_quotas():
    prompts = [P("math", "numina", i, 8) for i in range(50)] + [P("math", "metamath", i, 8) for i in range(50)]
    prompts += [P("code", "taco", i, 8) for i in range(10)]
    report = select(prompts, min_level=7, max_level=9, per_source={"numina": 5}, mix={"math": 0.75, "code": 0.25},
                    total=20, seed=1)
    counts = Counter(p.domain for p in report.kept)
    assert counts == {"math": 15, "code": 5}
    assert sum(p.source == "numina" for p in report.kept) <= 5
    assert report.dropped["per-source cap"] == 45


def test_mix_shortfall_is_reported():
    prompts = [P("math", "m", i, 8) for i in range(30)] + [P("code", "c", i, 8) for i in range(2)]
    report = select(prompts, min_level=7, max_level=9, per_source={}, mix={"math": 0.5, "code": 0.5}, total=20)
    assert report.shortfall == {"code": 8}


def test_selection_is_deterministic_and_stable_under_additions():
    base = [P("math", "m", i, 8) for i in range(40)]
    first = select(base, min_level=7, max_level=9, per_source={}, mix={}, total=10, seed=3).kept
    again = select(list(reversed(base)), min_level=7, max_level=9, per_source={}, mix={}, total=10, seed=3).kept
    assert [p.id for p in first] == [p.id for p in again]


def test_quotas_sum_to_total():
    q = domain_quotas({"a": 1, "b": 1, "c": 1}, 10)
    assert sum(q.values()) == 10 and max(q.values()) - min(q.values()) <= 1


@pytest.mark.parametrize("level,expected", [(None, 4), (6, 4), (8, 6), (8.5, 6), (9, 10)])
def test_harder_prompts_get_more_samples(level, expected):
    assert samples_for_level(level, 4, {8: 6, "9": 10}) == expected


def test_decontamination_exact_and_ngram():
    index = BenchmarkIndex(n=5)
    index.add("aime24", ["Find the number of ordered pairs of integers x and y such that x plus y equals ten."])
    prompts = [
        Prompt(domain="math", source="s", question="find the number of ordered pairs of integers (x, y) such that x plus y equals ten", reference="1"),
        Prompt(domain="math", source="s", question="Our count: the number of ordered pairs of integers matters here", reference="1"),
        Prompt(domain="math", source="s", question="What is 2 + 2?", reference="4"),
    ]
    kept, dropped = decontaminate(prompts, index)
    assert [p.question for p in kept] == ["What is 2 + 2?"]
    assert dropped == {"overlaps aime24": 2}


def test_exact_only_benchmarks_ignore_shared_template_words():
    template = "Write a program that reads a list of numbers and prints the sum of the {} ones in the list given"
    index = BenchmarkIndex(n=5)
    index.add("generated-heldout", [template.format("odd")], exact_only=True)
    train = [Prompt(domain="code", source="s", question=template.format("even"), reference="{}"),
             Prompt(domain="code", source="s", question=template.format("odd"), reference="{}")]
    kept, dropped = decontaminate(train, index)
    assert [p.question for p in kept] == [template.format("even")]
    assert dropped == {"overlaps generated-heldout": 1}


def test_each_domain_keeps_its_own_band_and_others_keep_the_global_one():
    prompts = [P("math", "m", i, lvl) for i, lvl in enumerate(range(1, 11))]
    prompts += [P("logic", "l", i, lvl) for i, lvl in enumerate(range(1, 11))]
    prompts += [P("code", "c", i, lvl) for i, lvl in enumerate(range(1, 11))]
    report = select(prompts, min_level=7, max_level=9, per_source={}, mix={}, total=None,
                    domains={"math": DomainRule(2, 9), "logic": DomainRule(min_level=1, max_level=10, max_prompts=4)})
    levels = {d: sorted(p.difficulty for p in report.kept if p.domain == d) for d in ("math", "logic", "code")}
    assert levels["math"] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert len(levels["logic"]) == 4  # its cap, from its whole band 1-10
    assert levels["code"] == [7, 8, 9]  # no rule of its own: the global band
    assert report.dropped_by_domain["math"] == Counter({"too easy": 1, "too hard": 1})
    assert report.dropped_by_domain["logic"] == Counter({"per-domain cap": 6})
    assert report.dropped_by_domain["code"] == Counter({"too easy": 6, "too hard": 1})


def test_a_share_as_a_cap_never_drops_another_domains_prompts():
    prompts = [P("math", "m", i, 8) for i in range(178)] + [P("logic", "l", i, 8) for i in range(95)]
    ratio = select(prompts, min_level=7, max_level=9, per_source={}, mix={"math": 0.6, "logic": 0.4}, total=None)
    assert Counter(p.domain for p in ratio.kept) == {"math": 142, "logic": 95}  # logic sets the size
    assert ratio.dropped_by_domain["math"]["over domain quota"] == 36
    cap = select(prompts, min_level=7, max_level=9, per_source={}, mix={"math": 0.6, "logic": 0.4}, total=None,
                 mix_mode="cap")
    assert Counter(p.domain for p in cap.kept) == {"math": 178, "logic": 95}
    capped_total = select(prompts, min_level=7, max_level=9, per_source={}, mix={"math": 0.6, "logic": 0.4},
                          total=300, mix_mode="cap")
    # math may take 180 of 300 and has 178; logic may take 120 and has 95: nobody is cut for a ratio.
    assert Counter(p.domain for p in capped_total.kept) == {"math": 178, "logic": 95}
    assert capped_total.shortfall == {}
    small_total = select(prompts, min_level=7, max_level=9, per_source={}, mix={"math": 0.6, "logic": 0.4},
                         total=100, mix_mode="cap")
    assert Counter(p.domain for p in small_total.kept) == {"math": 60, "logic": 40}


def test_a_domain_may_draw_its_own_number_of_samples():
    math, logic = P("math", "m", 0, 8), P("logic", "l", 0, 8)
    domains = {"logic": DomainSelection(n=2, n_by_level={8: 3}), "math": DomainSelection()}
    assert samples_for(math, 4, {7: 6}, domains) == 6
    assert samples_for(logic, 4, {7: 6}, domains) == 3
    assert samples_for(P("logic", "l", 1, 5), 4, {7: 6}, domains) == 2


def test_exact_match_ignores_case_and_spacing_but_never_structure():
    index = BenchmarkIndex(n=13)
    index.add("logic-bench", ["(true and true) or true", "What  is\tNOT false?"], exact_only=True)
    prompts = [Prompt(domain="logic", source="s", question=q, reference="x") for q in (
        "true and (true or true)",  # the same words, another meaning: kept
        "(TRUE and true)   or true",  # the same question: dropped
        "what is not false?",  # dropped
        "what is not false",  # punctuation is part of the text: kept
    )]
    kept, dropped = decontaminate(prompts, index)
    assert [p.question for p in kept] == ["true and (true or true)", "what is not false"]
    assert dropped == {"overlaps logic-bench": 2}


def test_decontamination_uses_the_evaluator_the_recipe_builds(tmp_path, arith_host):
    """The recipe's evaluator reads its own data (``count: 50`` here): a prompt equal to one of
    the questions only that set has must be caught, and the evaluator is not also built with its
    default options."""
    import arith_plugin

    from redstar.pipeline.context import PluginContext
    from redstar.pipeline.curate import benchmark_index
    from redstar.recipe import validate

    recipe = validate({"models": {"teacher": "t", "student": "s"},
                       "evaluation": {"evaluators": [{"name": "arith-heldout", "options": {"count": 50}}]}})
    built = []
    original = arith_plugin.ArithHeldout.__init__

    def spy(self, count=6):
        built.append(count)
        original(self, count)

    arith_plugin.ArithHeldout.__init__ = spy
    try:
        index, used = benchmark_index(PluginContext(recipe=recipe, host=arith_host))
    finally:
        arith_plugin.ArithHeldout.__init__ = original
    assert built == [50]
    late = arith_plugin.ArithHeldout(count=50).load()[-1]  # beyond the default 6
    assert index.match(late.question) == "arith-heldout"
