import json

import pytest


def test_help_teaches_with_examples(invoke_cli):
    out = invoke_cli(["--help"]).output
    assert "redstar run --plugins math,code" in out
    run_help = invoke_cli(["run", "--help"]).output
    assert "--recipe" in run_help and "Examples:" in run_help and "resumes" in run_help


def test_plugins_lists_what_each_plugin_registers(invoke_cli, arith_host):
    rows = json.loads(invoke_cli(["plugins", "--json"]).output)
    arith = next(r for r in rows if r["name"] == "arith")
    assert arith["provides"]["verifiers"] == ["arith"]
    assert arith["provides"]["samplers"] == ["scripted"]
    assert "redstar_default_recipe" in arith["hooks"]
    assert all(not r["builtin"] for r in rows)
    with_core = json.loads(invoke_cli(["plugins", "--json", "--all"]).output)
    assert any(r["name"] == "core:filters" for r in with_core)
    table = invoke_cli(["plugins"]).output
    assert "arith" in table and "scripted" in table


def test_verify_writes_verdicts_and_a_summary(invoke_cli, arith_host, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in [
        {"response": "so \\boxed{4}", "reference": "4", "id": "a"},
        {"response": "so \\boxed{5}", "reference": "4", "id": "b"},
        {"response": "I think 4", "reference": "4", "id": "c"},
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    result = invoke_cli(["verify", "--domain", "arith", str(src), "-o", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["reward"], r["correct"]) for r in rows] == [("a", 1, True), ("b", 0, False), ("c", -1, False)]
    assert rows[1]["extracted"] == "5"
    assert "3 responses verified" in result.output


def test_verify_malformed_line_is_named_and_nothing_is_written(invoke_cli, arith_host, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"response": "\\\\boxed{1}", "reference": "1"}\n{"response": "x"}\n')
    out = tmp_path / "out.jsonl"
    result = invoke_cli(["verify", "--domain", "arith", str(src), "-o", str(out)], expect_exit=1)
    assert f"{src}:2" in result.output and "'reference'" in result.output
    assert not out.exists()


def test_unknown_domain_is_a_clean_error_and_debug_shows_traceback(invoke_cli, arith_host, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"response": "x", "reference": "1"}\n')
    result = invoke_cli(["verify", "--domain", "chess", str(src)], expect_exit=1)
    assert "no verifier named 'chess'" in result.output and "Traceback" not in result.output
    from redstar.errors import PluginError

    with pytest.raises(PluginError):
        invoke_cli(["--debug", "verify", "--domain", "chess", str(src)])


def test_recipe_show_and_check(invoke_cli, arith_host, tmp_path):
    shown = invoke_cli(["recipe", "show", "--plugins", "arith"]).output
    assert "arith-gen" in shown
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {teacher: a, student: b}\nsampling:\n  temprature: 1\n")
    result = invoke_cli(["recipe", "check", str(bad)], expect_exit=1)
    assert f"{bad}:3" in result.output and "sampling.temprature" in result.output


def test_run_with_unknown_plugin_is_a_clean_error(invoke_cli, arith_host):
    result = invoke_cli(["run", "--plugins", "nosuch"], expect_exit=1)
    assert "plugin 'nosuch' is not installed" in result.output


def test_run_curate_through_the_cli(invoke_cli, arith_host, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "models: {teacher: t, student: s}\n"
        "sources: [{name: arith-gen, options: {count: 12}}]\n"
        "selection: {min_level: 1, max_level: 10}\n"
        "sampling: {backend: scripted, n: 2}\n"
    )
    out = tmp_path / "run"
    result = invoke_cli(["run", "--recipe", str(recipe), "--out", str(out), "--until", "curate", "--no-progress"])
    assert "Funnel" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["sample"]["samples"] == 24
    report = invoke_cli(["report", str(out)])
    assert (out / "report.html").exists() and "report.md" in report.output
    assert (out / "plots" / "difficulty.png").exists() and (out / "plots" / "funnel.png").exists()


def test_missing_model_path_is_a_clean_error(invoke_cli, arith_host, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "models: {teacher: ./no/such/model, student: s}\n"
        "sources: [{name: arith-gen, options: {count: 4}}]\n"
        "selection: {min_level: 1, max_level: 10}\n"
        "sampling: {backend: scripted, n: 1}\n"
    )
    result = invoke_cli(["run", "--recipe", str(recipe), "--out", str(tmp_path / "run"), "--no-progress"], expect_exit=1)
    assert "model path ./no/such/model does not exist" in result.output


def test_eval_scores_a_model_and_writes_per_problem_results(invoke_cli, arith_host, tiny_lm, tmp_path):
    out = tmp_path / "eval"
    result = invoke_cli(["eval", "--model", str(tiny_lm), "--evaluator", "arith-heldout",
                         "--evaluator-option", "arith-heldout.count=3", "--max-new-tokens", "4",
                         "--n", "2", "--temperature", "1.0", "--out", str(out)])
    scores = json.loads((out / "scores.json").read_text())["arith-heldout"]
    assert scores["problems"] == 3 and scores["samples_per_problem"] == 2
    assert set(scores["pass_at_k"]) == {"pass@1", "pass@2"}
    rows = [json.loads(line) for line in (out / "arith-heldout.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(len(r["samples"]) == 2 for r in rows)
    # four new tokens never finish an answer: every sample is truncated, and reported as such
    assert scores["truncated"] == 6
    assert "arith-heldout" in result.output


def test_eval_option_needs_an_evaluator_prefix(invoke_cli, arith_host, tiny_lm):
    result = invoke_cli(["eval", "--model", str(tiny_lm), "--evaluator", "arith-heldout",
                         "--evaluator-option", "count=3"], expect_exit=2)
    assert "EVALUATOR.KEY=VALUE" in result.output


def test_train_one_trainer_on_a_data_file(invoke_cli, arith_host, tiny_lm, tmp_path):
    data = tmp_path / "sft.jsonl"
    rows = [{"prompt_id": str(i), "messages": [{"role": "user", "content": f"What is {i} + 1?"},
                                               {"role": "assistant", "content": f"<think>{i} + 1</think> \\boxed{{{i + 1}}}"}]}
            for i in range(8)]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "sft"
    result = invoke_cli(["train", "--trainer", "sft", "--model", str(tiny_lm), "--data", str(data), "--out", str(out),
                         "--option", "epochs=1", "--option", "batch_size=4", "--option", "learning_rate=1e-3"])
    reported = json.loads(result.output[result.output.rindex('{\n  "model_path"'):])
    assert (out / "metrics.jsonl").read_text().strip()
    from pathlib import Path

    assert (Path(reported["model_path"]) / "config.json").exists()


def test_verify_takes_every_verifier_option_from_the_command_line_or_a_recipe(invoke_cli, redstar_host,
                                                                              register_plugin, tmp_path):
    from redstar import hookimpl
    from redstar.interfaces import Verifier
    from redstar.records import Verdict

    class Tolerant(Verifier):
        """Judges a number right when within ``tolerance`` of the reference."""

        domain = "num"
        instruction = "Answer with a number."

        def __init__(self, tolerance: float = 0.0) -> None:
            if tolerance < 0:
                raise ValueError(f"tolerance cannot be negative, got {tolerance}")
            self.tolerance = tolerance

        def extract(self, response):
            return response.strip()

        def verify(self, response, reference, metadata=None):
            ok = abs(float(response) - float(reference)) <= self.tolerance
            return Verdict.right(response) if ok else Verdict.wrong(response)

    class P:
        @hookimpl
        def redstar_register_verifiers(self, register):
            register(Tolerant)

    register_plugin(P(), name="num")
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"response": "1.05", "reference": "1"}\n')
    out = tmp_path / "out.jsonl"
    invoke_cli(["verify", "--domain", "num", str(rows), "-o", str(out)])
    assert json.loads(out.read_text())["correct"] is False
    invoke_cli(["verify", "--domain", "num", str(rows), "-o", str(out), "--option", "tolerance=1e-1"])
    assert json.loads(out.read_text())["correct"] is True
    recipe = tmp_path / "r.yaml"
    recipe.write_text("models: {teacher: t, student: s}\nverifiers: {num: {tolerance: 0.2}}\n")
    invoke_cli(["verify", "--domain", "num", str(rows), "-o", str(out), "--recipe", str(recipe)])
    assert json.loads(out.read_text())["correct"] is True
    invoke_cli(["verify", "--domain", "num", str(rows), "-o", str(out), "--recipe", str(recipe),
                "--option", "tolerance=0"])  # the command line wins over the recipe
    assert json.loads(out.read_text())["correct"] is False
    bad = invoke_cli(["verify", "--domain", "num", str(rows), "--option", "tolerance=-1"], expect_exit=2)
    assert "tolerance cannot be negative" in bad.output
    unknown = invoke_cli(["verify", "--domain", "num", str(rows), "--option", "tolerence=1"], expect_exit=2)
    assert "unknown option 'tolerence'" in unknown.output and "tolerance" in unknown.output


def test_plugins_shows_each_classes_options_with_type_default_and_doc(invoke_cli, redstar_host, register_plugin):
    from redstar import hookimpl
    from redstar.interfaces import Verifier

    class Documented(Verifier):
        """Judges answers to the nearest ``tolerance``.

        Args:
            tolerance: How far from the reference an answer may be
                and still count as right.
            mode: Strict or lenient.
        """

        domain = "doc"
        instruction = "Answer."

        def __init__(self, tolerance: float = 0.5, mode: str = "strict", undocumented: int | None = None) -> None:
            pass

        def extract(self, response):  # a registered class implements its base's abstract methods
            return response

        def verify(self, response, reference, metadata=None):
            raise NotImplementedError

    class P:
        @hookimpl
        def redstar_register_verifiers(self, register):
            register(Documented)

    register_plugin(P(), name="doc")
    rows = json.loads(invoke_cli(["plugins", "--json"]).output)
    options = {o["name"]: o for o in rows[0]["classes"]["verifiers"]["doc"]["options"]}
    assert options["tolerance"] == {"name": "tolerance", "type": "float", "default": 0.5, "required": False,
                                    "doc": "How far from the reference an answer may be and still count as right.",
                                    "problem": None}
    assert options["mode"]["doc"] == "Strict or lenient." and options["undocumented"]["doc"] is None
    assert options["undocumented"]["type"] == "int | None"
    text = invoke_cli(["plugins", "--options", "doc"]).output
    assert "tolerance" in text and "0.5" in text and "still count as right" in text
    assert "no installed plugin named nope, and no registered class of that name" in invoke_cli(["plugins", "nope"], expect_exit=1).output


def test_every_recipe_the_help_cites_exists(invoke_cli):
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    cited = set()
    for command in ([], ["run"], ["curate"], ["train"], ["eval"], ["verify"], ["recipe", "check"]):
        cited |= set(re.findall(r"recipes/[\w.-]+\.yaml", invoke_cli([*command, "--help"]).output))
    assert "recipes/paper-code-math.yaml" in cited
    assert [c for c in sorted(cited) if not (root / c).exists()] == []
