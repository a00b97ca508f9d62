"""What a plugin adds is visible: `redstar plugins` lists its stages, a stage's per-domain counts
are reported as it gives them (never as zeros it did not give), a recipe switches a plugin stage
off, and the report names the scorer, the samplers and each trainer by its registered name."""

import json
import re

import pytest
from broken_plugins import ADD_DOMAIN, ADD_RECIPE, install
from click.testing import CliRunner
from test_domain_blend import ARITH, HOPELESS, Hopeless, write

from redstar import hookimpl
from redstar.cli import build_cli
from redstar.errors import RecipeError
from redstar.pipeline.runner import run_pipeline
from redstar.pipeline.stage import FunnelRow, Outcome, Stage
from redstar.plugins import Host
from redstar.progress import ProgressBoard
from redstar.recipe import load_recipe


def per_domain(ctx, inputs):
    """Count the verified samples, in total and per domain, as docs/plugins.md shows."""
    domain_of = {p.id: p.domain for p in inputs["select"]}
    by_domain = {}
    for sample, _ in inputs["verify"]:
        counts = by_domain.setdefault(domain_of[sample.prompt_id], {"judged": 0})
        counts["judged"] += 1
    total = sum(c["judged"] for c in by_domain.values())
    return Outcome(total, {"judged": total, "by_domain": by_domain})


def total_only(ctx, inputs):
    return Outcome(len(inputs["verify"]), {"counted": len(inputs["verify"])})


class Counting:
    @hookimpl
    def redstar_pipeline_stages(self):
        return [Stage("judged", "curate", per_domain, reads=("select", "verify"), after="verify",
                      funnel=(FunnelRow("samples judged (plugin)", "judged", "samples"),)),
                Stage("counted", "curate", total_only, reads=("verify", "judged"), after="judged",
                      funnel=(FunnelRow("samples counted (plugin)", "counted", "samples"),))]


@pytest.fixture
def blend_host(arith_host, register_plugin):
    register_plugin(Hopeless(), name="hopeless")
    register_plugin(Counting(), name="counting")
    return arith_host


def test_a_plugin_stage_counts_per_domain_as_it_reports_them(tmp_path, blend_host):
    summary = run_pipeline(load_recipe(write(tmp_path, [ARITH, HOPELESS])), tmp_path / "run", blend_host,
                           ProgressBoard(enabled=False), until="curate")
    totals = dict(summary["funnel"] + summary["sample_funnel"])
    by_domain = {d: dict(rows) for d, rows in summary["funnel_by_domain"].items()}
    assert totals["samples judged (plugin)"] == totals["samples drawn"] > 0
    for domain in ("arith", "hopeless"):
        assert by_domain[domain]["samples judged (plugin)"] == by_domain[domain]["samples drawn"] > 0
        # A stage that gives no per-domain counts has no per-domain row (zeros would contradict its total).
        assert "samples counted (plugin)" not in by_domain[domain]
    assert totals["samples counted (plugin)"] == totals["samples drawn"]
    assert any("domain 'hopeless' yielded no SFT rows" in w for w in summary["warnings"])


def test_a_recipe_switches_a_plugin_stage_off(tmp_path, blend_host):
    path = write(tmp_path, [ARITH])
    path.write_text(path.read_text() + "stages: {counted: false}\n")
    summary = run_pipeline(load_recipe(path), tmp_path / "run", blend_host, ProgressBoard(enabled=False),
                           until="curate")
    assert "counted" not in summary["stages"] and "judged" in summary["stages"]
    assert "samples counted (plugin)" not in dict(summary["sample_funnel"])

    for stages, message in (("{judged: false}", "stage 'counted' reads 'judged': switch 'counted' off too"),
                            ("{sample: false}", "'sample' is one of core's stages"),
                            ("{countd: false}", "no plugin adds a stage named 'countd' (plugin stages: judged, counted)")):
        path.write_text(write(tmp_path, [ARITH]).read_text() + f"stages: {stages}\n")
        with pytest.raises(RecipeError, match=rf"r\.yaml:\d+: stages\.\w+: .*{re.escape(message)}"):
            run_pipeline(load_recipe(path), tmp_path / "bad", blend_host, ProgressBoard(enabled=False), until="curate")


# -- installed for real ----------------------------------------------------------------------
STAGE = '''
from redstar.pipeline.stage import FunnelRow, Outcome, Stage


def judged(ctx, inputs):
    n = len(inputs["verify"])
    return Outcome(n, {"judged": n, "by_domain": {"add": {"judged": n}}})


@hookimpl
def redstar_pipeline_stages():
    return [Stage("judged", "curate", judged, reads=("verify",), after="verify",
                  funnel=(FunnelRow("samples judged", "judged", "samples"),))]
'''


def test_plugins_lists_a_plugins_stages(site):
    install(site, "add", ADD_DOMAIN + STAGE)
    cli = build_cli(Host(allow=["add"]))
    listing = CliRunner().invoke(cli, ["plugins"])
    assert listing.exit_code == 0 and "stages: judged" in listing.output
    rows = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    assert rows[0]["provides"]["stages"] == ["judged"]
    assert rows[0]["distribution"] == "redstar-add" and rows[0]["entry_point"] == "add = rs_add"


def test_the_report_names_the_scorer_the_samplers_and_each_trainer(site, tmp_path):
    install(site, "add", ADD_DOMAIN + STAGE)
    recipe = tmp_path / "add.yaml"
    recipe.write_text(ADD_RECIPE)
    out = tmp_path / "run"
    result = CliRunner().invoke(build_cli(Host(allow=["add"])),
                                ["run", "--recipe", str(recipe), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "ran with: scorer half; sampling sampler adder; evaluation sampler adder; trainers sft: copy" \
        in " ".join(result.output.split())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["provenance"]["scorer"] == "half" and summary["provenance"]["trainers"] == {"sft": "copy"}
    report = (out / "report.md").read_text()
    for expected in ("**scorer**: half", "**backends**: sampling: adder, evaluation: adder", "**trainers**: sft: copy",
                     "| evaluator | base | sft (copy) |"):
        assert expected in report, expected
    assert "sft (copy)" in result.output


def test_plugins_options_takes_a_component_name_as_well_as_a_plugin_name(invoke_cli, arith_host):
    text = invoke_cli(["plugins", "--options", "scripted"]).output
    assert "sampler 'scripted'" in text and "delay" in text
    assert "source 'arith-gen'" not in text  # only the class asked for, not its plugin's others
    whole = invoke_cli(["plugins", "--options", "arith"]).output
    assert "sampler 'scripted'" in whole and "source 'arith-gen'" in whole
    core = invoke_cli(["plugins", "--options", "repetition"]).output  # a core class
    assert "filter 'repetition'" in core and "max_line_repeats" in core
    rows = json.loads(invoke_cli(["plugins", "--json", "scripted"]).output)
    assert [(r["name"], list(r["classes"]["samplers"])) for r in rows] == [("arith", ["scripted"])]
    missing = invoke_cli(["plugins", "--options", "nope"], expect_exit=1).output
    assert "no installed plugin named nope, and no registered class of that name" in missing
