"""tools/bench/run_tables_scale.py runs, at a tiny size, a whole real run (run_pipeline on a
recipe, the real math verifier and cleaning filters) and reports every stage it meters. Speed and
memory are measured by the script, never asserted here."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tools" / "bench" / "run_tables_scale.py"

pytest.importorskip("redstar_math")


def load_bench():
    spec = importlib.util.spec_from_file_location("run_tables_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bench_teacher_draws_each_response_from_its_seed_alone():
    bench = load_bench()
    texts = [bench.response(seed, 123, 456, 789) for seed in range(400)]
    assert texts == [bench.response(seed, 123, 456, 789) for seed in range(400)]
    assert len({t for t, _ in texts}) == 400
    sizes = [len(t.encode()) for t, _ in texts]
    assert all(1_500 <= size <= 5_000 for size in sizes) and 2_500 <= sum(sizes) / len(sizes) <= 3_500  # ~2-4 KB
    gold = f"\\boxed{{{123 * 456 + 789}}}"
    right = sum(gold in t for t, _ in texts)
    assert 0.35 < right / 400 < 0.65  # "right about half the time"
    assert any("\\boxed" not in t for t, _ in texts) and any(r == "length" for _, r in texts)


def test_the_bench_runs_a_tiny_size_and_meters_every_stage(tmp_path):
    results, md, png = tmp_path / "r.json", tmp_path / "table.md", tmp_path / "plot.png"
    work = tmp_path / "work"
    done = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "200", "--per-prompt", "", "--workdir", str(work),
                           "--keep", "--json", str(results), "--md", str(md), "--plot", str(png)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [result] = json.loads(results.read_text())
    assert (result["prompts"], result["n"], result["samples"]) == (20, 10, 200)
    bench = load_bench()
    # Every stage of the run was metered, in order, each with at least one RSS reading.
    assert list(result["stages"]) == list(bench.STAGES)
    for name, stage in result["stages"].items():
        assert stage["samples"] >= 1 and stage["peak_mib"] >= stage["start_mib"] > 0, name
        assert stage["seconds"] >= 0, name
    assert 0 < result["rss_before_stages_mib"] <= min(s["peak_mib"] for s in result["stages"].values())
    # The run's own state.json counts what the bench generated: every sample drawn and judged.
    state = json.loads((work / "run-20x10" / "state.json").read_text())
    counts = {name: st["counts"] for name, st in state["stages"].items()}
    assert counts == result["counts"]
    assert counts["load"]["prompts"] == counts["select"]["selected"] == 20
    assert counts["sample"]["samples"] == counts["sample"]["prompts"] * 10 == 200
    assert counts["verify"]["verified"] == 200
    assert counts["verify"]["correct"] + counts["verify"]["wrong"] + counts["verify"]["no_answer"] == 200
    assert 0 < counts["build"]["sft_rows"] <= counts["verify"]["correct"]
    assert (work / "run-20x10" / "report.md").exists()
    # The table has one row per metered stage, and the plot was drawn.
    rows = [line for line in md.read_text().splitlines() if line.startswith("| 200 |")]
    assert [row.split("|")[3].strip() for row in rows] == ["(before stages)", *bench.SHOWN]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
