"""``engine: openrlhf``: the reward module OpenRLHF loads, the flags RedStar writes (checked by
OpenRLHF 0.11.2's own parser), the recipe check, and following a run's log.

OpenRLHF pins a CUDA stack, so these tests install it with ``--no-deps`` into a venv of its own
under the git-ignored ``build/venvs/openrlhf`` (built once from PyPI when missing; the tests that
need it skip, saying why, when it cannot be built). Nothing here runs OpenRLHF's training.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from redstar.errors import RedStarError
from redstar.interfaces import TrainContext
from redstar_rl.openrlhf import (
    absolute_model,
    cluster_settings,
    launch_command,
    openrlhf_args,
    parse_step_line,
    run_openrlhf,
    write_prompt_dataset,
    write_reward_module,
)
from redstar_rl.ppo import PPOTrainer
from redstar_rl.reinforce_pp import ReinforcePPTrainer

PARSER = Path(__file__).with_name("openrlhf_parse_args.py")


# -- the reward module ------------------------------------------------------------------------
CODE_REFERENCE = json.dumps({"inputs": ["2 3\n"], "outputs": ["5\n"]})
GEO_META = {"choices": {"A": "40°", "B": "60°", "C": "120°", "D": "140°"}}
CASES = [  # (domain, reference, metadata, response as the policy wrote it, without the end token)
    ("math", "7", {}, "<think>3 + 4 = 7</think> The answer is \\boxed{7}."),
    ("math", "7", {}, "<think>3 + 4 = 8</think> The answer is \\boxed{8}."),
    ("math", "7", {}, "<think>3 + 4 = 7"),  # cut off in its reasoning: no answer
    ("code", CODE_REFERENCE, {}, "<think>add</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```"),
    ("code", CODE_REFERENCE, {}, "<think>add</think>\n```python\nprint(6)\n```"),
    ("geo", "D", GEO_META, "<think>180 - 40 = 140</think>\nAnswer: D"),
    ("geo", "D", GEO_META, "Answer: A"),
]


def pipeline_reward(domain, reference, metadata, text):
    """What the pipeline gives a response: the registered verifier's reward."""
    from redstar.plugins import Host

    verifier = Host().get("verifiers", domain)()
    try:
        return float(verifier.verify(text, reference, metadata).reward)
    finally:
        verifier.close()


def query_of(tokenizer, row, response, end=True):
    prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    return prompt, prompt + response + (tokenizer.eos_token if end else "")


def test_the_reward_module_gives_the_pipelines_rewards(tmp_path, tiny_lm):
    """The written ``reward_func.py``, loaded as OpenRLHF loads it and called as OpenRLHF calls it
    (full query text with special tokens, the chat-templated prompt, the label column)."""
    import importlib.util

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    rows = [{"prompt": [{"role": "user", "content": f"question {i}"}], "prompt_id": f"p{i}", "reference": reference,
             "domain": domain, "metadata": metadata} for i, (domain, reference, metadata, _) in enumerate(CASES)]
    dataset = write_prompt_dataset(rows, tmp_path / "prompts.jsonl")
    labels = [json.loads(line)["label"] for line in dataset.read_text().splitlines()]
    module = write_reward_module(tmp_path / "reward_func.py", str(tiny_lm), {"code": {"timeout": 5}})
    spec = importlib.util.spec_from_file_location("reward_func", module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)

    pairs = [query_of(tokenizer, row, response) for row, (*_, response) in zip(rows, CASES)]
    got = loaded.reward_func([q for _, q in pairs], [p for p, _ in pairs], labels)
    expected = [pipeline_reward(d, r, m, text) for d, r, m, text in CASES]
    assert got["rewards"].tolist() == expected
    assert set(expected) == {1.0, 0.0, -1.0}
    # OpenRLHF filters on "scores": 1 for a correct response, else 0 (a prompt's pass rate).
    assert got["scores"].tolist() == [float(r == 1.0) for r in expected]
    assert got["extra_logs"]["reward_error"] == 0.0
    # Keyword arguments a later OpenRLHF passes do not break it.
    assert loaded.reward_func([pairs[0][1]], [pairs[0][0]], labels[:1], extra="x")["rewards"].tolist() == expected[:1]

    # A response cut off inside its reasoning: the tags are special tokens in this tokenizer, and
    # the verifier must see them (-1: no answer outside the reasoning), as sampling and
    # evaluation do; skip_special_tokens-style text would score the \boxed{7} as correct.
    cut = "<think>3 + 4 = 7, so \\boxed{7}"
    prompt, query = query_of(tokenizer, rows[0], cut, end=False)
    [reward] = loaded.reward_func([query], [prompt], labels[:1])["rewards"].tolist()
    assert reward == pipeline_reward("math", "7", {}, cut) == -1.0
    assert pipeline_reward("math", "7", {}, cut.replace("<think>", "")) != -1.0


def test_a_verifier_failure_costs_one_response_and_is_counted(caplog):
    """OpenRLHF swallows an exception from reward_func (INFO log, empty reward) and the step then
    fails with an unrelated message; RedStar's reward_func judges each response on its own."""
    from redstar_rl.openrlhf_reward import reward_function

    def reward(rows, responses):
        if rows[0]["prompt_id"] == "bad":
            raise RuntimeError("sandbox: bwrap not found")
        return [1.0 if "7" in responses[0] else 0.0]

    func = reward_function(reward, lambda query, prompt: query[len(prompt):])
    labels = [json.dumps({"prompt_id": p}) for p in ("a", "bad", "b")]
    with caplog.at_level("ERROR", logger="redstar.reward"):
        got = func(["Q: 7", "Q: 7", "Q: 8"], ["Q: "] * 3, labels, n_samples=3)
    assert got["rewards"].tolist() == [1.0, 0.0, 0.0] and got["scores"].tolist() == [1.0, 0.0, 0.0]
    assert got["extra_logs"]["reward_error"] == pytest.approx(1 / 3)
    assert "prompt bad failed (RuntimeError: sandbox: bwrap not found)" in caplog.text
    # A label that is not RedStar's JSON is an error of that response too, not of the step.
    assert func(["Q: 7"], ["Q: "], ["not json"])["extra_logs"]["reward_error"] == 1.0


# -- the flags, against OpenRLHF's own parser -------------------------------------------------
def parsed(python: str, args: list[str]) -> dict:
    done = subprocess.run([python, str(PARSER), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def table9_args(trainer, tmp_path):
    o = trainer.options
    return openrlhf_args(algorithm=trainer.name, options=o, extra=trainer.engine_options(), cluster=o.openrlhf,
                         model_path="Qwen/Qwen2.5-14B-Instruct", dataset=tmp_path / "prompts.jsonl",
                         reward_module=tmp_path / "reward_func.py", output_dir=tmp_path / "out", seed=42)


@pytest.mark.parametrize("trainer_class", [PPOTrainer, ReinforcePPTrainer])
def test_openrlhfs_parser_accepts_table_9(tmp_path, openrlhf_python, trainer_class):
    trainer = trainer_class(engine="openrlhf", openrlhf={"python": openrlhf_python}, max_new_tokens=8192)
    args = parsed(openrlhf_python, table9_args(trainer, tmp_path))
    # Table 9 in OpenRLHF's units.
    assert args["train.num_episodes"] == 5
    assert args["rollout.batch_size"] == 1024 and args["rollout.n_samples_per_prompt"] == 2
    assert args["train.batch_size"] == 128  # responses per optimizer step: OpenRLHF's default, 16 a rollout
    assert args["actor.adam.lr"] == 5e-7 and args["rollout.temperature"] == 1.0
    assert (args["actor.lr_scheduler"], args["actor.lr_warmup_ratio"]) == ("linear", 0.0)
    assert args["reward.remote_url"] == [str(tmp_path / "reward_func.py")]
    assert args["data.label_key"] == "label" and args["data.apply_chat_template"] is True
    assert args["ckpt.output_dir"] == str(tmp_path / "out" / "final")
    # Checkpoints every 10 rollouts, resumed from on a rerun; the entropy logged, not trained on.
    assert args["ckpt.path"] == str(tmp_path / "out" / "checkpoints")
    assert args["ckpt.save_steps"] == 10 and args["ckpt.load_enable"] is True
    assert args["actor.entropy_coef"] == 0.0
    assert args["algo.dynamic_filtering_enable"] is False
    if trainer_class is PPOTrainer:
        assert args["algo.advantage.estimator"] == "gae" and args["algo.advantage.lambd"] == 1.0
        assert args["critic.adam.lr"] == 5e-6
        assert (args["critic.lr_scheduler"], args["critic.lr_warmup_ratio"]) == ("linear", 0.0)
        assert args["critic.model_name_or_path"] == "Qwen/Qwen2.5-14B-Instruct"  # defaults to the actor
        # 0.11.2 trains the actor when global_step > freezing_steps, counting from 0
        # (trainer/ppo_trainer.py, ppo_train): the actor is frozen for exactly the 2 warm-up
        # rollouts the local loop freezes.
        frozen = [g for g in range(10) if not g > args["critic.freezing_steps"]]
        assert frozen == [g for g in range(10) if trainer.actor_frozen(g)] == [0, 1]
    else:
        assert args["algo.advantage.estimator"] == "reinforce"
        assert args["critic.model_name_or_path"] is None


def test_openrlhf_gets_the_estimator_the_warm_up_and_the_filter(tmp_path, openrlhf_python):
    trainer = ReinforcePPTrainer(engine="openrlhf", openrlhf={"python": openrlhf_python, "save_steps": -1,
                                                               "resume": False},
                                 advantage_estimator="reinforce_baseline", dynamic_filtering=True,
                                 dynamic_filtering_range=[0.0, 0.75])
    args = parsed(openrlhf_python, table9_args(trainer, tmp_path))
    assert args["algo.advantage.estimator"] == "reinforce_baseline"
    assert args["algo.dynamic_filtering_enable"] is True and list(args["algo.dynamic_filtering_range"]) == [0.0, 0.75]
    assert args["ckpt.save_steps"] == -1 and args["ckpt.load_enable"] is False
    no_warmup = PPOTrainer(engine="openrlhf", openrlhf={"python": openrlhf_python}, critic_warmup_steps=0)
    args = parsed(openrlhf_python, table9_args(no_warmup, tmp_path))
    assert args["critic.freezing_steps"] == -1  # OpenRLHF's own default: the actor trains from step 0
    assert not any(no_warmup.actor_frozen(g) for g in range(3))


def test_openrlhfs_parser_rejects_what_0_11_2_does_not_know(tmp_path, openrlhf_python):
    """The harness is a real check: an unknown flag fails there as it would on the cluster."""
    trainer = ReinforcePPTrainer(engine="openrlhf", openrlhf={"python": openrlhf_python, "args": ["--actor_lr", "1"]})
    done = subprocess.run([openrlhf_python, str(PARSER), *table9_args(trainer, tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "unrecognized arguments: --actor_lr" in done.stderr


# -- options and the recipe check ------------------------------------------------------------
def test_engine_options_are_checked(openrlhf_python):
    with pytest.raises(RedStarError, match="engine must be one of local, openrlhf"):
        PPOTrainer(engine="verl")
    with pytest.raises(RedStarError, match="unknown setting"):
        PPOTrainer(engine="openrlhf", openrlhf={"python": openrlhf_python, "gpus": 8})
    with pytest.raises(RedStarError, match="engine: openrlhf only"):
        PPOTrainer(openrlhf={"nodes": 2})
    # The environment RedStar itself runs in has no OpenRLHF (its pins conflict with RedStar's).
    with pytest.raises(RedStarError, match="OpenRLHF is not installed for .*openrlhf.python"):
        PPOTrainer(engine="openrlhf", openrlhf={"python": sys.executable})
    with pytest.raises(RedStarError, match="cannot be run"):
        PPOTrainer(engine="openrlhf", openrlhf={"python": "/nonexistent/python"})


def recipe(tmp_path, python):
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: openrlhf-check
        models: {{teacher: embedded:tiny-teacher, student: embedded:tiny-student}}
        rl:
          - trainer: reinforce_pp
            options: {{engine: openrlhf, openrlhf: {{python: {python}, nodes: 2}}, max_new_tokens: 8192}}
        """))
    return path


def test_recipe_check_passes_with_openrlhf_and_names_the_missing_extra(tmp_path, openrlhf_python):
    """``redstar recipe check`` as a user runs it (installed plugins, a separate process)."""
    redstar = str(Path(sys.executable).with_name("redstar"))
    ok = subprocess.run([redstar, "recipe", "check", str(recipe(tmp_path, openrlhf_python))], capture_output=True,
                        text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run([redstar, "recipe", "check", str(recipe(tmp_path, sys.executable))], capture_output=True,
                             text=True, timeout=300)
    assert missing.returncode != 0
    assert "OpenRLHF is not installed" in missing.stderr and "openrlhf.python" in missing.stderr
    assert "Traceback" not in missing.stderr + missing.stdout


# -- launching and following ------------------------------------------------------------------
def test_launch_command_runs_here_or_submits_to_ray_with_the_same_interpreter(tmp_path):
    cluster = {"python": "/env/bin/python", "ray_address": None, "runtime_env": {"env_vars": {"HF_HOME": "/hf"}}}
    assert launch_command(cluster, ["--a", "1"]) == ["/env/bin/python", "-m", "openrlhf.cli.train_ppo_ray", "--a", "1"]
    command = launch_command({**cluster, "ray_address": "http://head:8265"}, ["--a"], tmp_path / "job")
    assert command[:5] == ["/env/bin/ray", "job", "submit", "--address", "http://head:8265"]
    assert command[5] == "--runtime-env-json"
    assert json.loads(command[6]) == {"env_vars": {"HF_HOME": "/hf"}, "working_dir": str(tmp_path / "job")}
    # Not `python3`: the job runs where the configured environment's OpenRLHF is.
    assert command[7:] == ["--", "/env/bin/python", "-m", "openrlhf.cli.train_ppo_ray", "--a"]


def test_cluster_settings_are_checked():
    with pytest.raises(RedStarError, match="working_dir is RedStar's"):
        cluster_settings({"runtime_env": {"working_dir": "."}})
    with pytest.raises(RedStarError, match="sets NCCL_DEBUG, which OpenRLHF's own ray.init sets too"):
        cluster_settings({"runtime_env": {"env_vars": {"NCCL_DEBUG": "INFO"}}})
    with pytest.raises(RedStarError, match="save_steps must be a positive number of rollouts or -1"):
        cluster_settings({"save_steps": 0})
    assert cluster_settings({"save_steps": -1})["save_steps"] == -1


def test_paths_handed_over_are_absolute(tmp_path, monkeypatch):
    """A relative model folder or output folder means nothing to OpenRLHF's actors (other nodes,
    another working directory); a hub id stays as it is."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "sft").mkdir(parents=True)
    assert absolute_model("models/sft") == str(tmp_path / "models" / "sft")
    assert absolute_model("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"
    trainer = ReinforcePPTrainer()
    args = openrlhf_args(algorithm="reinforce_pp", options=trainer.options, extra=trainer.engine_options(),
                         cluster=cluster_settings({}), model_path="m", dataset="prompts.jsonl",
                         reward_module="reward_func.py", output_dir=Path("runs/x/models/rl"), seed=0)
    assert args[args.index("--ckpt.output_dir") + 1] == str(tmp_path / "runs/x/models/rl/final")
    assert args[args.index("--ckpt.path") + 1] == str(tmp_path / "runs/x/models/rl/checkpoints")


def test_progress_and_metrics_follow_openrlhfs_log(tmp_path):
    from redstar.trainers.reporting import StepReporter

    line = "[I] ✨ Global step 2: {'policy_loss': -0.25, 'reward': 0.5, 'actor_lr': 2.5e-07, 'note': 'x'}"
    assert parse_step_line(line) == (2, {"policy_loss": -0.25, "reward": 0.5, "actor_lr": 2.5e-07})
    assert parse_step_line("Episode [1/5]: 3%") is None

    script = tmp_path / "fake_openrlhf.py"
    script.write_text("print('loading')\n"
                      "for step in (1, 2):\n"
                      "    print(f\"✨ Global step {step}: {{'reward': {step / 4}, 'actor_lr': {5e-7 / step}, "
                      "'reward_error': {step - 1}}}\")\n")
    seen = []
    metrics_file = tmp_path / "metrics.jsonl"
    last = run_openrlhf([sys.executable, str(script)], tmp_path / "log.txt", 2,
                        StepReporter(metrics_file, lambda step, total, m: seen.append((step, total))))
    # The last step's metrics, and the mean share of responses whose verification failed.
    assert seen == [(1, 2), (2, 2)]
    assert last == {"reward": 0.5, "actor_lr": 2.5e-07, "reward_error": 1.0, "reward_error_rate": 0.5}
    assert [json.loads(x)["reward"] for x in metrics_file.read_text().splitlines()] == [0.25, 0.5]
    assert "loading" in (tmp_path / "log.txt").read_text()

    failing = tmp_path / "failing.py"
    failing.write_text("import sys\nprint('CUDA error: out of memory')\nsys.exit(1)\n")
    with pytest.raises(RedStarError, match="OpenRLHF exited with status 1.*\n.*out of memory"):
        run_openrlhf([sys.executable, str(failing)], tmp_path / "log2.txt", 1, StepReporter())


def test_a_run_that_saves_no_model_is_an_error(tmp_path, tiny_lm, online_file, digit_reward, openrlhf_python,
                                               monkeypatch):
    """The stage's model is OpenRLHF's final Hugging Face checkpoint; without one the stage fails."""
    import redstar_rl.openrlhf as engine

    commands = []
    monkeypatch.setattr(engine, "run_openrlhf", lambda command, log, total, reporter: commands.append(command) or {})
    trainer = ReinforcePPTrainer(engine="openrlhf", openrlhf={"python": openrlhf_python}, batch_size=4,
                                 mini_batch_size=8)
    with pytest.raises(RedStarError, match="without saving a model"):
        trainer.train(TrainContext(model=str(tiny_lm), output_dir=tmp_path / "out", data_file=online_file,
                                   reward=digit_reward))
    command = commands[0]
    assert command[:3] == [openrlhf_python, "-m", "openrlhf.cli.train_ppo_ray"]
    prompts = tmp_path / "out" / "openrlhf" / "job" / "prompts.jsonl"
    assert command[command.index("--data.prompt_dataset") + 1] == str(prompts)
    assert command[command.index("--reward.remote_url") + 1] == str(prompts.with_name("reward_func.py"))
    assert len(prompts.read_text().splitlines()) == 16
