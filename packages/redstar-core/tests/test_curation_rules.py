from collections import Counter

import pytest

from redstar.decontamination import BenchmarkIndex, decontaminate
from redstar.records import Prompt
from redstar.selection import domain_quotas, samples_for_level, select


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
