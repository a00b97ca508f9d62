"""A domain the teacher cannot solve, blended with one it can: the run finishes what it can,
counts every step per domain, and says what to do; stage times survive a resume."""

import json
from pathlib import Path

import pytest

from redstar import hookimpl
from redstar.interfaces import Source, Verifier
from redstar.pipeline.runner import run_pipeline
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe
from redstar.records import Prompt, Verdict


class HopelessSource(Source):
    """Questions the scripted teacher answers (two numbers in each), judged by a verifier that
    accepts nothing: a domain the teacher cannot do."""

    name = "hopeless-gen"
    domain = "hopeless"

    def __init__(self, count: int = 10) -> None:
        self.count = count

    def load(self):
        return [Prompt(domain="hopeless", source="hopeless-gen", question=f"Riddle {i} and {i + 7}?",
                       reference="unreachable", difficulty=5) for i in range(self.count)]


class HopelessVerifier(Verifier):
    domain = "hopeless"
    instruction = "Put the answer in \\boxed{}."

    def extract(self, response):
        return None

    def verify(self, response, reference, metadata=None):
        return Verdict.wrong("?") if "\\boxed" in response else Verdict.no_answer()


class Hopeless:
    @hookimpl
    def redstar_register_sources(self, register):
        register(HopelessSource)

    @hookimpl
    def redstar_register_verifiers(self, register):
        register(HopelessVerifier)


@pytest.fixture
def blend_host(arith_host, register_plugin):
    register_plugin(Hopeless(), name="hopeless")
    return arith_host


BLEND = """
name: blend
models: {teacher: scripted-teacher, student: scripted-student}
sources: [SOURCES]
sampling: {backend: scripted, n: 2}
decontamination: {enabled: false}
selection: {domains: {arith: {min_level: 1, max_level: 10}, hopeless: {min_level: 1, max_level: 10}}}
sft: {trainer: sft, options: {}}
evaluation: {backend: scripted, evaluators: [{name: arith-heldout, options: {count: 4}}]}
"""

ARITH = "{name: arith-gen, options: {count: 12}}"
HOPELESS = "{name: hopeless-gen, options: {count: 10}}"


def write(tmp_path, sources):
    path = tmp_path / "r.yaml"
    path.write_text(BLEND.replace("SOURCES", ", ".join(sources)))
    return path


def test_a_domain_with_no_positives_ends_with_a_report_and_advice(tmp_path, blend_host, invoke_cli):
    out = tmp_path / "run"
    result = invoke_cli(["run", "--recipe", str(write(tmp_path, [HOPELESS])), "--out", str(out), "--no-progress"])
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["models"]) == ["base"]  # SFT skipped, nothing trained
    assert "train:sft: skipped: sft.jsonl is empty" in summary["warnings"][0]
    assert "stronger teacher" in summary["warnings"][0] and "--until curate" in summary["warnings"][0]
    assert summary["scores"]["base"]["arith-heldout"]["pass_at_1"] >= 0  # the base model was still evaluated
    report = (out / "report.md").read_text()
    assert "## Warnings" in report and "sft.jsonl is empty" in report
    assert "warning:" in result.output and "stronger teacher" in result.output
    assert summary["funnel_by_domain"]["hopeless"][-1] == ["SFT rows (correct and clean)", 0]


def test_every_funnel_count_is_split_by_domain(tmp_path, blend_host):
    out = tmp_path / "run"
    recipe = load_recipe(write(tmp_path, [ARITH, HOPELESS]))
    summary = run_pipeline(recipe, out, blend_host, ProgressBoard(enabled=False), until="curate")
    by_domain = {d: dict(rows) for d, rows in summary["funnel_by_domain"].items()}
    assert set(by_domain) == {"arith", "hopeless"}
    for label, total in summary["funnel"] + summary["sample_funnel"]:
        assert by_domain["arith"][label] + by_domain["hopeless"][label] == total, label
    assert by_domain["hopeless"]["prompts loaded"] == 10 and by_domain["hopeless"]["samples drawn"] == 20
    assert by_domain["hopeless"]["samples correct"] == 0 and by_domain["arith"]["samples correct"] > 0
    cleaning = summary["drops_by_domain"]["hopeless"]["cleaning"]
    assert cleaning.get("no valid answer", 0) > 0
    assert sum(sum(d["cleaning"].values()) for d in summary["drops_by_domain"].values()) == \
        sum(summary["drops"]["cleaning"].values())
    assert any("domain 'hopeless' yielded no SFT rows" in w for w in summary["warnings"])


def test_report_shows_the_funnel_by_domain(tmp_path, blend_host, invoke_cli):
    out = tmp_path / "run"
    recipe = write(tmp_path, [ARITH, HOPELESS])
    recipe.write_text(recipe.read_text().replace("sft: {trainer: sft, options: {}}", "sft: null"))
    invoke_cli(["run", "--recipe", str(recipe), "--out", str(out), "--no-progress"])
    report = (out / "report.md").read_text()
    assert "### By domain" in report and "| step | arith | hopeless |" in report
    assert (out / "plots" / "funnel_by_domain.png").exists()


def test_stage_times_are_totals_across_a_resume(tmp_path, arith_host):
    path = Path(tmp_path / "r.yaml")
    path.write_text(BLEND.replace("SOURCES", ARITH).replace("sampling: {backend: scripted, n: 2}",
                                                            "sampling: {backend: scripted, n: 2, options: {delay: 0.3}}"))
    out = tmp_path / "run"
    first = run_pipeline(load_recipe(path), out, arith_host, ProgressBoard(enabled=False), until="curate")
    assert first["seconds"]["sample"] >= 0.3  # at least one scripted call of 0.3 s
    again = run_pipeline(load_recipe(path), out, arith_host, ProgressBoard(enabled=False), until="curate")
    assert again["seconds"]["sample"] >= first["seconds"]["sample"]  # not the last call's near-zero
    assert again["seconds_this_call"]["sample"] < first["seconds"]["sample"]


def test_the_summary_says_what_ran(tmp_path, arith_host):
    from redstar.recipe import dump

    path = write(tmp_path, [ARITH])
    path.write_text(path.read_text().replace("sft: {trainer: sft, options: {}}", "sft: null"))
    recipe = load_recipe(path)
    summary = run_pipeline(recipe, tmp_path / "run", arith_host, ProgressBoard(enabled=False), until="curate")
    provenance = summary["provenance"]
    assert provenance["recipe"]["name"] == "blend"
    import hashlib

    assert provenance["recipe"]["sha256"].startswith(hashlib.sha256(dump(recipe).encode()).hexdigest()[:12])
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["provenance"] == provenance
