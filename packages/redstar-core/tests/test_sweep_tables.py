"""The sweep's tables from finished runs: rows = an axis's values with seeds pooled, columns =
evaluators and their average, each pass@1 with its interval and seed spread, each row against the
first with a paired test (written by hand here, so every number is known)."""

import json

import pytest

from redstar.stats import paired_comparison, pass_at_1_interval
from redstar.sweep import expand, load_sweep
from redstar.sweep.render import write_sweep_files
from redstar.sweep.tables import build_tables

BASE = """
name: arith
models: {teacher: scripted-teacher, student: scripted-student}
sources: [{name: arith-gen}]
sft: null
evaluation: {evaluators: [{name: arith-heldout}, {name: arith-other}]}
"""

SWEEP = """
base: base.yaml
seeds: [0, 1]
vary:
  - selection.total: [10, 20]
  - sampling.n: [2, 4]
"""


def fake_run(run, solved):
    """A finished run whose final model (sft) solved ``solved[evaluator]`` = list of 0/1 per problem."""
    scores = {"base": {}, "sft": {}}
    for evaluator, marks in solved.items():
        folder = run / "eval" / "sft"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{evaluator}.jsonl").open("w") as handle:
            for i, ok in enumerate(marks):
                handle.write(json.dumps({"prompt_id": f"p{i}", "correct_count": ok, "samples": ["x"]}) + "\n")
        scores["base"][evaluator] = {"pass_at_1": 0.0}
        scores["sft"][evaluator] = {"pass_at_1": sum(marks) / len(marks)}
    (run / "summary.json").write_text(json.dumps({"scores": scores}))


@pytest.fixture
def sweep(tmp_path, arith_host):
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "s.yaml").write_text(SWEEP)
    spec = load_sweep(tmp_path / "s.yaml")
    return spec, expand(spec, arith_host), tmp_path / "out"


def test_tables_pool_seeds_and_compare_against_the_first_row(sweep):
    spec, variants, out = sweep
    n = 40
    for v in variants:
        total, seed = v.recipe.selection.total, v.seed
        # the larger set solves 20 more of 40 heldout problems; "other" is the same for both
        good = 30 if total == 20 else 10
        fake_run(v.run_dir(out), {"arith-heldout": [int(i < good + seed) for i in range(n)],
                                  "arith-other": [int(i % 2 == 0) for i in range(n)]})
    result = build_tables(spec, variants, out)
    # one table per axis and value of the other axis
    assert [t["title"] for t in result["tables"]] == ["selection.total (n=2)", "selection.total (n=4)",
                                                      "sampling.n (total=10)", "sampling.n (total=20)"]
    small, large = result["tables"][0]["rows"]
    assert small["label"] == "total=10" and small["seeds_finished"] == [0, 1]
    cell = large["cells"]["arith-heldout"]
    assert cell["seeds"] == [30 / 40, 31 / 40] and cell["pass_at_1"] == pytest.approx(30.5 / 40)
    assert cell["spread"]["std"] == pytest.approx((1 / 40) / 2 ** 0.5)  # sample sd of two seeds one problem apart
    order = sorted(range(n), key=lambda i: f"p{i}")  # problems are paired by id, in id order
    pooled = [(int(i < 30) + int(i < 31), 2) for i in order]
    assert cell["ci"] == pytest.approx(list(pass_at_1_interval(pooled)))
    against = [(int(i < 10) + int(i < 11), 2) for i in order]
    assert cell["vs_baseline"] == paired_comparison(pooled, against).to_dict()
    assert cell["vs_baseline"]["within_noise"] is False and cell["vs_baseline"]["difference"] == pytest.approx(0.5)
    other = large["cells"]["arith-other"]["vs_baseline"]
    assert other["difference"] == 0 and other["within_noise"] is True
    assert "vs_baseline" not in small["cells"]["arith-heldout"]  # the baseline itself
    average = large["average"]
    assert average["pass_at_1"] == pytest.approx((30.5 / 40 + 0.5) / 2)
    assert average["vs_baseline"]["difference"] == pytest.approx(0.25)
    assert average["vs_baseline"]["within_noise"] is False
    assert average["ci"][0] < average["pass_at_1"] < average["ci"][1]

    files = write_sweep_files(out, result)
    md = files["md"].read_text()
    assert "## selection.total (n=2)" in md and "| variant | arith-heldout | arith-other | average |" in md
    assert "0.762 [" in md and "±0.018" in md and "*within noise*" in md and "**better**" in md
    assert files["png"].stat().st_size > 0 and "data:image/png;base64" in files["html"].read_text()


def test_unfinished_runs_leave_their_cells_empty(sweep):
    spec, variants, out = sweep
    fake_run(variants[0].run_dir(out), {"arith-heldout": [1, 0], "arith-other": [0, 0]})
    result = build_tables(spec, variants, out)
    first = result["tables"][0]["rows"][0]
    assert first["seeds_finished"] == [0] and first["cells"]["arith-heldout"]["pass_at_1"] == 0.5
    assert result["tables"][0]["rows"][1]["cells"] == {}
    assert sum(v["finished"] for v in result["variants"]) == 1
    text = write_sweep_files(out, result)["md"].read_text()
    assert "| total=20 | - | - | - |" in text
    # a row with some of the sweep's seeds says which, so that it is not read as pooled over all
    assert "| total=10 (seed 0 only) | 0.500 [" in text and "| total=10 | 0.500" not in text


def test_a_row_with_some_seeds_is_compared_with_the_baseline_on_those_seeds(sweep):
    spec, variants, out = sweep
    n = 20
    for v in variants:
        if v.recipe.sampling.n != 2:
            continue
        if v.recipe.selection.total == 10:  # the baseline: every problem on seed 0, none on seed 1
            fake_run(v.run_dir(out), {"arith-heldout": [1 - v.seed] * n, "arith-other": [1 - v.seed] * n})
        elif v.seed == 1:  # the other row has seed 1 only, where it does what the baseline does
            fake_run(v.run_dir(out), {"arith-heldout": [0] * n, "arith-other": [0] * n})
    base, partial = build_tables(spec, variants, out)["tables"][0]["rows"]
    assert base["seeds_finished"] == [0, 1] and partial["seeds_finished"] == [1]
    # against the baseline pooled over both seeds it would be -0.5; on seed 1 alone it is 0
    for cell in (partial["cells"]["arith-heldout"], partial["cells"]["arith-other"], partial["average"]):
        assert cell["vs_baseline"]["difference"] == 0 and cell["vs_baseline"]["within_noise"] is True


def test_rows_with_a_sampled_evaluation_carry_the_room_for_rl_pooled_over_seeds(sweep):
    from redstar.evaluation import room_for_rl

    spec, variants, out = sweep
    units = {}
    for v in variants:
        run = v.run_dir(out)
        greedy = [int(i < 10) for i in range(20)]  # right on p0..p9
        fake_run(run, {"arith-heldout": greedy, "arith-other": greedy})
        # 4 samples each: problems p10..p14 solved by one sample on seed 0, by none on seed 1
        sampled = [4 if i < 10 else (1 if i < 15 and v.seed == 0 else 0) for i in range(20)]
        with (run / "eval" / "sft" / "arith-heldout.sampled.jsonl").open("w") as handle:
            for i, c in enumerate(sampled):
                handle.write(json.dumps({"prompt_id": f"p{i}", "correct_count": c, "samples": ["x"] * 4}) + "\n")
        if v.levels == variants[0].levels:
            for i in range(20):
                units.setdefault(f"p{i}", []).append(((greedy[i], 1), (sampled[i], 4)))
    result = build_tables(spec, variants, out)
    first = result["tables"][0]["rows"][0]
    room = first["cells"]["arith-heldout"]["room"]
    assert (room["wrong"], room["solved_by_a_sample"]) == (20, 5)  # 10 wrong problems x 2 seeds, 5 fixed
    assert room == room_for_rl(units)
    assert room["pass_at_k"] == pytest.approx((10 + 5 * 0.5) / 20)
    assert "room" not in first["cells"]["arith-other"]  # no sampled evaluation there
    text = write_sweep_files(out, result)["md"].read_text()
    assert "Room for RL" in text and "5/20 = 0.25" in text


def test_rl_rows_carry_each_seeds_training_health(sweep):
    from redstar.training_health import training_health

    spec, variants, out = sweep
    health = {}
    for v in variants:
        run = v.run_dir(out)
        fake_run(run, {"arith-heldout": [1, 0], "arith-other": [0, 1]})
        if v.recipe.selection.total != 20:
            continue  # the first row has no RL stage
        # a policy that moved (KL up to 0.02) and whose reward rose well past its spread on seed 0;
        # one that never moved on seed 1
        metrics = run / "rl.metrics.jsonl"
        kl, rise = (0.02, 0.1) if v.seed == 0 else (0.0, 0.0)
        metrics.write_text("".join(json.dumps({"step": i, "rollout": i, "kl": kl * i / 7, "reward": 0.2 + rise * i,
                                               "reward_std": 0.1, "responses": 64}) + "\n" for i in range(8)))
        health[v.slug] = training_health(metrics, "ppo", "ppo", "online")
        summary = json.loads((run / "summary.json").read_text())
        summary["training_health"] = {"ppo": health[v.slug]}
        (run / "summary.json").write_text(json.dumps(summary))
    result = build_tables(spec, variants, out)
    first, second = result["tables"][0]["rows"]
    assert "health" not in first
    assert [(h["seed"], h["trained"]) for h in second["health"]] == [(0, True), (1, False)]
    assert second["health"][0] == {"seed": 0, **health[second["variants"][0]]}
    text = write_sweep_files(out, result)["md"].read_text()
    assert "Training health of each RL stage" in text
    assert "| total=20 | 0 | ppo (ppo) | 0.02 | 0.200 -> 0.900 | +0.600 [" in text
    assert "| total=20 | 1 | ppo (ppo) | 0 | 0.200 -> 0.200 | +0.000 [0.013] | **did not train**: policy did not move" in text


def test_a_stage_whose_reward_fell_is_told_apart_from_one_that_rose(tmp_path):
    from redstar.report_health import verdict
    from redstar.training_health import training_health

    def stage(rise):
        metrics = tmp_path / f"rise{rise}.jsonl"
        metrics.write_text("".join(json.dumps({"step": i, "rollout": i, "kl": 0.01, "reward": 0.5 + rise * i,
                                               "reward_std": 0.1, "responses": 64}) + "\n" for i in range(8)))
        return training_health(metrics, "ppo", "ppo", "online")

    fell, rose = stage(-0.05), stage(0.05)
    assert fell["trained"] is True and rose["trained"] is True  # both moved beyond their noise
    assert verdict(rose) == "trained"
    assert verdict(fell).startswith("trained, but its **reward fell**: -0.300 from its first to its last rollouts")


@pytest.mark.parametrize(("text", "problem"), [('{"scores": ', "invalid JSON"), ("[1]", "not a JSON object")])
def test_a_damaged_summary_is_named_not_a_traceback(sweep, text, problem, invoke_cli, tmp_path):
    # JSONDecodeError and AttributeError tracebacks from the tables and from `redstar report`
    from redstar.errors import InputError
    from redstar.sweep.running import DONE, is_finished

    spec, variants, out = sweep
    for v in variants:
        fake_run(v.run_dir(out), {"arith-heldout": [1, 0]})
    damaged = variants[0].run_dir(out) / "summary.json"
    damaged.write_text(text)
    with pytest.raises(InputError, match=rf"{damaged}: {problem}"):
        build_tables(spec, variants, out)
    result = invoke_cli(["report", str(damaged.parent)], expect_exit=1)
    assert result.output.startswith(f"Error: {damaged}: {problem}") and "Traceback" not in result.output
    (damaged.parent / DONE).write_text(text)  # the marker a finished variant leaves: unfinished when damaged
    assert not is_finished(variants[0], out, "report")


def test_tables_only_tabulates_the_finished_variants_and_runs_nothing(sweep, invoke_cli, tmp_path):
    spec, variants, out = sweep
    finished = [v for v in variants if v.seed == 0]
    for v in finished:
        fake_run(v.run_dir(out), {"arith-heldout": [1, 0, 1, 1], "arith-other": [0, 0, 1, 1]})
    result = invoke_cli(["sweep", str(tmp_path / "s.yaml"), "--out", str(out), "--tables-only"])
    assert f"{len(finished)} of {len(variants)} variants have finished" in result.output
    text = (out / "sweep.md").read_text()
    assert "| total=10 (seed 0 only) | 0.750 [" in text
    # nothing ran: the seed-1 variants have no run directory, and no lock was taken
    assert not any(v.run_dir(out).exists() for v in variants if v.seed == 1)
    assert not (out / ".lock").exists()
    assert json.loads((out / "sweep.json").read_text())["tables"][0]["rows"][0]["seeds_finished"] == [0]


def test_tables_only_names_what_the_choice_still_needs(tmp_path, arith_host, invoke_cli):
    (tmp_path / "base.yaml").write_text(BASE.replace(
        "evaluation: {evaluators: [{name: arith-heldout}, {name: arith-other}]}",
        "evaluation: {evaluators: [{name: arith-heldout}], validation: [{name: arith-other}]}"))
    (tmp_path / "s.yaml").write_text("base: base.yaml\nseeds: [0]\nvary:\n  - - label: fixed\n      sampling.n: 1\n"
                                     "    - label: tuned\n      choose: {sampling.top_p: [0.5, 0.9]}\n"
                                     "select: {on: validation, metric: pass@1}\n")
    result = invoke_cli(["sweep", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "--tables-only"],
                        expect_exit=1)
    assert "cannot choose for tuned: no validation score for" in result.output and "Traceback" not in result.output
