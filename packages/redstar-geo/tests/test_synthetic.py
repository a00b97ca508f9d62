import math
import re

import numpy as np
import pytest

from redstar_geo.synthetic.figure import direction, render
from redstar_geo.synthetic.generate import FORMATS, generate, split_of, write_and_load
from redstar_geo.synthetic.problems import KINDS, VARIANTS
from redstar_geo.values import parse_value
from redstar_geo.verifier import GeoVerifier


def numbers(question):
    return [int(n) for n in re.findall(r"\d+", question)]


def expected(problem):
    """The answer recomputed from the numbers in the question text, independently of the generator."""
    n = numbers(problem.question)
    v = problem.variant
    if v == "third-angle":
        return 180 - n[0] - n[1]
    if v == "exterior-angle":
        return n[1] - n[0]
    if v in ("corresponding", "alternate-interior"):
        return n[0]
    if v == "co-interior":
        return 180 - n[0]
    if v == "central-from-inscribed":
        return 2 * n[0]
    if v == "inscribed-from-central":
        return n[0] / 2
    if v == "inscribed-from-base-angle":
        return 90 - n[0]
    if v == "apex-from-base":
        return 180 - 2 * n[0]
    if v == "base-from-apex":
        return (180 - n[0]) / 2
    if v == "apex-from-exterior":
        return 180 - 2 * (180 - n[0])
    if v == "distance-from-chord":
        return math.sqrt(n[0] ** 2 - (n[1] / 2) ** 2)
    if v == "chord-from-distance":
        return 2 * math.sqrt(n[0] ** 2 - n[1] ** 2)
    if v == "radius-from-chord":
        return math.hypot(n[0] / 2, n[1])
    if v == "area-from-sides":
        return n[0] * n[1]
    if v == "area-from-perimeter":
        return n[1] * (n[0] / 2 - n[1])
    if v == "area-from-diagonal":
        return n[0] * math.sqrt(n[1] ** 2 - n[0] ** 2)
    raise AssertionError(f"no independent check for {v}")


@pytest.fixture(scope="module")
def every_variant():
    return [p for variant in VARIANTS for p in generate(6, seed=11, kinds=[variant.kind], levels=[variant.level])
            if p.variant == variant.name]


def test_every_variant_is_generated_and_answers_are_exact(every_variant):
    assert {p.variant for p in every_variant} == {v.name for v in VARIANTS}
    for problem in every_variant:
        values = [parse_value(text) for text in problem.choices.values()]
        assert len(set(values)) == 4 and all(v > 0 for v in values), problem.choices
        assert parse_value(problem.choices[problem.answer]) == pytest.approx(expected(problem)), problem.question


def test_diagrams_are_drawn_from_the_stated_numbers(every_variant):
    for problem in every_variant:
        fig = problem.figure
        for vertex, a, b, label in fig.angles:
            v = fig.points[vertex]
            span = abs(direction(v, fig.points[a]) - direction(v, fig.points[b])) % 360
            measured = min(span, 360 - span)
            wanted = parse_value(problem.value) if label == "?" else parse_value(label)
            assert measured == pytest.approx(wanted, abs=1e-6), (problem.variant, label)
        lengths = [(math.dist(fig.points[a], fig.points[b]), float(label)) for a, b, label in fig.lengths]
        for measured, stated in lengths[1:]:
            assert measured / lengths[0][0] == pytest.approx(stated / lengths[0][1]), problem.variant


def test_worked_solutions_score_as_correct(every_variant):
    verifier = GeoVerifier()
    for problem in every_variant:
        verdict = verifier.verify(problem.solution(), problem.answer, {"choices": problem.choices})
        assert verdict.correct and verdict.reward == 1


def test_generation_is_deterministic_and_filtered():
    first, again = generate(20, seed=3), generate(20, seed=3)
    assert [(p.id, p.question, p.choices) for p in first] == [(p.id, p.question, p.choices) for p in again]
    assert [p.id for p in generate(20, seed=4)] != [p.id for p in first]
    hard = generate(15, seed=3, levels=[7, 8])
    assert {p.level for p in hard} <= {7, 8}
    assert {p.kind for p in generate(10, kinds=["isosceles"])} == {"isosceles"}
    with pytest.raises(ValueError, match="unknown kind"):
        generate(1, kinds=["hexagon"])
    with pytest.raises(ValueError, match="no synthetic variant"):
        generate(1, levels=[10])
    with pytest.raises(ValueError, match="distinct"):
        generate(500, split="heldout", kinds=["chord-length"])  # only a few dozen chord problems exist


def test_train_and_heldout_never_share_a_problem():
    from redstar.decontamination import BenchmarkIndex, normalise

    train, heldout = generate(400, seed=0), generate(60, seed=0, split="heldout")
    assert not {p.id for p in train} & {p.id for p in heldout}
    # Core's decontamination (13-gram overlap) must not flag train problems for sharing a template
    # with held-out ones: questions stay under 13 words, so only identical texts would match.
    assert max(len(normalise(p.question)) for p in train) < 13
    index = BenchmarkIndex(13)
    index.add("synthetic-geo-heldout", [p.question for p in heldout])
    assert [p.question for p in train if index.match(p.question)] == []
    assert len({p.id for p in train}) == 400
    assert set(KINDS) == {p.kind for p in train}
    assert split_of("triangle-angle", "third-angle", (50, 60)) in ("train", "heldout")


def test_every_format_reads_back_the_same_problems(tmp_path):
    problems = generate(6, seed=2)
    loaded = {fmt: write_and_load(problems, tmp_path / fmt, fmt) for fmt in FORMATS}
    # Geometry3K folders are read in id order, the jsonl and json files in written order.
    keys = {fmt: sorted((p.id, p.question, p.reference, p.metadata["choices"], p.difficulty) for p in prompts)
            for fmt, prompts in loaded.items()}
    assert keys["gllava"] == keys["geometry3k"] == keys["mathvista"]
    assert all(p.metadata["group"] in KINDS and p.image for p in loaded["gllava"])


def test_render_draws_something():
    image = render(generate(1, seed=9)[0].figure, size=160)
    assert image.size == (160, 160)
    dark = int((np.asarray(image.convert("L")) < 70).sum())
    assert 100 < dark < 160 * 160 // 4
