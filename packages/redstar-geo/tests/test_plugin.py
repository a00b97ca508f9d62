import json
from pathlib import Path

import pytest

from redstar.evaluation import evaluate
from redstar.interfaces import SamplingParams
from redstar.models import resolve_model
from redstar.plugins import instantiate
from redstar.recipe import default_recipe
from redstar_geo import plugin
from redstar_geo.sampler import InternVLSampler
from redstar_geo.verifier import GeoVerifier


@pytest.fixture
def host(redstar_host, register_plugin):
    register_plugin(plugin, name="geo")
    return redstar_host


def test_registers_every_part(host):
    assert {"geoqa", "geometry3k", "synthetic-geo"} <= set(host.names("sources"))
    assert {"geoqa", "mathvista-geo", "geometry3k", "synthetic-geo-heldout"} <= set(host.names("evaluators"))
    assert host.get("verifiers", "geo") is GeoVerifier
    assert host.get("samplers", "internvl") is InternVLSampler
    assert host.get("trainers", "vlm-sft").kind == "sft"
    assert not host.failures


def test_default_recipe_part_is_valid_for_core(host):
    recipe = default_recipe(host, ["geo"])
    assert recipe.models.to_dict() == {"teacher": "embedded:tiny-internvl-teacher", "student": "embedded:tiny-internvl-student"}
    assert recipe.sampling.backend == recipe.evaluation.backend == "internvl"
    assert recipe.sampling.n == 8  # the paper's 8 samples per GeoQA question
    assert recipe.sft.trainer == "vlm-sft"
    assert recipe.selection.mix == {"geo": 1.0}
    assert [s.name for s in recipe.sources] == ["synthetic-geo"]
    assert [e.name for e in recipe.evaluation.evaluators] == ["synthetic-geo-heldout"]
    # Every option the part sets is one the plugin classes accept.
    for spec in recipe.sources:
        instantiate(host.get("sources", spec.name), spec.options)
    for spec in recipe.evaluation.evaluators:
        instantiate(host.get("evaluators", spec.name), spec.options)
    instantiate(host.get("trainers", "vlm-sft"), recipe.sft.options)
    instantiate(host.get("samplers", "internvl"), {**recipe.sampling.options, "model": "unused"})
    # The selection keeps levels 7-9; the source must yield such prompts.
    source = instantiate(host.get("sources", "synthetic-geo"), recipe.sources[0].options)
    assert sum(7 <= p.difficulty <= 9 for p in source.load()) >= 16


def test_embedded_models_are_installed():
    for name in ("tiny-internvl-teacher", "tiny-internvl-student"):
        folder = resolve_model(f"embedded:{name}")
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        assert size < 20_000_000, f"{name} is {size} bytes"


def test_embedded_teacher_answers_in_the_verifier_format(host, tmp_path):
    # The build measured 115 of 120 held-out answers readable (greedy); it must still write
    # <think> ... </think> then "Answer: X" on most problems.
    problems = instantiate(host.get("evaluators", "synthetic-geo-heldout"),
                           {"count": 6, "out_dir": str(tmp_path / "heldout")}).load()
    sampler = InternVLSampler("embedded:tiny-internvl-teacher", device="cpu", batch_size=6)
    [responses] = zip(*sampler.generate([GeoVerifier().messages(p) for p in problems],
                                        SamplingParams(n=1, temperature=0.0, max_new_tokens=200)))
    verdicts = [GeoVerifier().verify(c.text, p.reference, p.metadata) for c, p in zip(responses, problems)]
    assert sum(v.reward != -1 for v in verdicts) >= 4
    assert all("</think>" in c.text for c, v in zip(responses, verdicts) if v.reward != -1)


@pytest.mark.parametrize("name", ["geoqa", "mathvista-geo", "geometry3k"])
def test_benchmarks_score_per_problem_through_core_evaluation(host, tiny_vlm, tmp_path, name):
    evaluator = instantiate(host.get("evaluators", name), {"limit": 3})
    problems = evaluator.load()
    assert len(problems) == 3 and all(p.image and p.metadata["choices"] for p in problems)
    sampler = InternVLSampler(str(tiny_vlm), device="cpu", batch_size=6)
    score = evaluate(name, problems, sampler, GeoVerifier(), SamplingParams(n=2, temperature=0.0, max_new_tokens=4),
                     tmp_path / f"{name}.jsonl")
    rows = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
    assert [r["prompt_id"] for r in rows] == [p.id for p in problems]
    assert all(len(r["samples"]) == 2 and r["reference"] in "ABCDE" for r in rows)
    assert score.problems == 3 and 0.0 <= score.pass_at_1 <= 1.0
    assert score.by_group  # GeoQA angle/other, MathVista source, Geometry3K shape


def test_redstar_eval_cli_on_the_bundled_benchmarks(host, invoke_cli, tiny_vlm, tmp_path):
    out = tmp_path / "eval"
    invoke_cli(["eval", "--model", str(tiny_vlm), "--backend", "internvl", "--evaluator", "geoqa",
                "--evaluator", "mathvista-geo", "--evaluator", "geometry3k", "--limit", "2",
                "--max-new-tokens", "3", "--backend-option", "device=cpu", "--out", str(out)])
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores) == {"geoqa", "mathvista-geo", "geometry3k"}
    assert all(scores[name]["problems"] == 2 for name in scores)
    assert len((out / "geometry3k.jsonl").read_text().splitlines()) == 2


def test_heldout_evaluator_never_repeats_a_training_problem(host, tmp_path):
    source = instantiate(host.get("sources", "synthetic-geo"), {"count": 200, "out_dir": str(tmp_path / "train")})
    heldout = instantiate(host.get("evaluators", "synthetic-geo-heldout"),
                          {"count": 30, "out_dir": str(tmp_path / "heldout"), "limit": 25})
    train_questions = {(p.question, p.reference) for p in source.load()}
    held = heldout.load()
    assert len(held) == 25 and not {(p.question, p.reference) for p in held} & train_questions
    assert (tmp_path / "heldout" / "test").is_dir()  # written as Geometry3K folders by default


def test_shared_benchmarks_load_through_evaluator_options(host, shared_geo):
    geoqa = instantiate(host.get("evaluators", "geoqa"), {
        "path": str(shared_geo / "geoqa_test"), "image_root": str(shared_geo / "geoqa_test" / "images"),
        "missing_image": "skip"})
    mathvista = instantiate(host.get("evaluators", "mathvista-geo"), {
        "path": str(shared_geo / "mathvista_testmini_geo"), "missing_image": "skip"})
    geometry3k = instantiate(host.get("evaluators", "geometry3k"), {
        "path": str(shared_geo / "geometry3k_test" / "mc_subset"), "diagram": "img_diagram_point.png"})
    assert [len(e.load()) for e in (geoqa, mathvista, geometry3k)] == [566, 73, 24]
