"""``engine: openrlhf``: PPO and REINFORCE++ at the paper's scale on OpenRLHF, the framework the
paper's Table 9 names for them (Ray + vLLM + DeepSpeed).

RedStar does the parts that are RedStar's and hands the rest to OpenRLHF 0.11.2's
``openrlhf.cli.train_ppo_ray``: it writes the run's ``online`` rows as OpenRLHF's prompt dataset
(``input`` = the chat messages, ``label`` = the whole row as JSON), writes ``reward_func.py``
(OpenRLHF's custom reward-function interface, ``--reward.remote_url``) that scores with
RedStar's verifiers (:mod:`redstar_rl.openrlhf_reward`), maps the trainer's options onto
OpenRLHF's flags (:func:`openrlhf_args`), launches it (directly, or through ``ray job submit``
with ``ray_address``), turns its ``Global step N: {...}`` log lines into the run's metrics and
progress, and returns the Hugging Face checkpoint it saves into ``<output_dir>/final``.

Launched from anywhere: every path handed over is absolute (the model when it is a local folder,
the output and checkpoint folders, which must be on storage every node sees), and under ``ray job
submit`` the reward module and the prompt dataset travel to the job as its ``runtime_env``
``working_dir`` (OpenRLHF imports the module inside every vLLM actor and reads the dataset inside
its trainer actor, on whichever node they land, each with the working directory as its current
directory), so the flags name them relative to it. The job runs the configured interpreter, like a
local launch. OpenRLHF checkpoints every ``save_steps`` rollouts and a rerun resumes from the last
checkpoint (``--ckpt.load_enable``).

OpenRLHF pins its own stack (deepspeed 0.19.6, transformers 5.15, ray 2.55, vllm 0.29, flash-attn
2.8.3), so it lives in its own environment, named by ``openrlhf.python``; the reward module runs
there, so redstar-core, redstar-rl and the domain packages must be installed into it too
(``docs/scale.md`` has the stack).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redstar.errors import RedStarError
from redstar.export import write_prompt_dataset  # noqa: F401  (one writer, shared with `redstar export`)

if TYPE_CHECKING:
    from redstar.interfaces import TrainContext, TrainResult

#: The OpenRLHF release whose flags :func:`openrlhf_args` writes.
OPENRLHF_VERSION = "0.11.2"
ENGINES = ("local", "openrlhf")

#: Cluster settings of ``engine: openrlhf`` (the trainer's ``openrlhf`` option), with defaults.
CLUSTER_DEFAULTS: dict[str, Any] = {
    "python": "python3",          # the interpreter of the environment OpenRLHF is installed in
    "ray_address": None,          # e.g. http://head:8265: submit with `ray job submit`; None: run here
    "runtime_env": {},            # more of the job's Ray runtime_env (env_vars, pip...); RedStar sets working_dir
    "nodes": 1,                   # nodes for each of actor, critic and reference
    "gpus_per_node": 8,
    "vllm_engines": 8,
    "vllm_tensor_parallel_size": 1,
    "vllm_gpu_memory_utilization": 0.5,
    "zero_stage": 3,
    "colocate_all": True,         # actor, critic, reference and vLLM share the GPUs (sleep mode)
    "gradient_checkpointing": True,
    "save_steps": 10,             # checkpoint every N rollouts (OpenRLHF global steps); -1: never
    "resume": True,               # resume from the last checkpoint in <output_dir>/checkpoints
    "args": [],                   # more OpenRLHF flags, appended as given
}

#: Environment variables OpenRLHF 0.11.2's ``train_ppo_ray`` sets in its own ``ray.init``; Ray
#: refuses a job whose runtime_env sets them too (it merges the two and fails on a conflict).
OPENRLHF_ENV_VARS = ("TOKENIZERS_PARALLELISM", "NCCL_DEBUG", "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS")
#: What the job's working directory (``<output_dir>/openrlhf/job``) holds; OpenRLHF reads them
#: relative to it on every node.
REWARD_MODULE = "reward_func.py"
PROMPT_DATASET = "prompts.jsonl"

STEP_LINE = re.compile(r"Global step (\d+): (\{.*\})\s*$")


def cluster_settings(given: Mapping[str, Any] | None) -> dict[str, Any]:
    from redstar.trainers.settings import OptionError

    given = dict(given or {})
    unknown = sorted(set(given) - set(CLUSTER_DEFAULTS))
    if unknown:
        raise OptionError(f"openrlhf: unknown setting(s) {', '.join(unknown)}; "
                          f"it takes: {', '.join(CLUSTER_DEFAULTS)}")
    settings = {**CLUSTER_DEFAULTS, **given}
    if not isinstance(settings["args"], list) or not all(isinstance(a, str) for a in settings["args"]):
        raise OptionError("openrlhf.args must be a list of strings (extra OpenRLHF flags)")
    runtime_env = settings["runtime_env"]
    if not isinstance(runtime_env, Mapping):
        raise OptionError(f"openrlhf.runtime_env must be a mapping (Ray's runtime_env), got {runtime_env!r}")
    if "working_dir" in runtime_env:
        raise OptionError("openrlhf.runtime_env.working_dir is RedStar's: it ships the reward module and the "
                          "prompt dataset to the job; remove it")
    clash = sorted(set(runtime_env.get("env_vars") or {}) & set(OPENRLHF_ENV_VARS))
    if clash:
        raise OptionError(f"openrlhf.runtime_env.env_vars sets {', '.join(clash)}, which OpenRLHF's own ray.init "
                          "sets too; Ray refuses a job whose runtime environments disagree")
    if isinstance(settings["save_steps"], bool) or not isinstance(settings["save_steps"], int) \
            or settings["save_steps"] == 0 or settings["save_steps"] < -1:
        raise OptionError(f"openrlhf.save_steps must be a positive number of rollouts or -1 (never), "
                          f"got {settings['save_steps']!r}")
    return settings


def check_installed(python: str) -> None:
    """Raise a clear error unless ``python`` has OpenRLHF 0.11.2 (without importing it: it needs
    Ray and CUDA libraries that a checking machine may lack)."""
    probe = ("import importlib.metadata as m, sys\n"
             "try:\n    print(m.version('openrlhf'))\nexcept m.PackageNotFoundError:\n    sys.exit(3)\n")
    hint = (f"engine: openrlhf runs OpenRLHF {OPENRLHF_VERSION} from its own environment: create one on the "
            f"cluster (pip install 'redstar-rl[openrlhf]' plus redstar-core and the domain packages) and name its "
            "interpreter in the trainer's option openrlhf.python")
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RedStarError(f"openrlhf.python {python!r} cannot be run ({exc}); {hint}") from None
    if done.returncode != 0:
        raise RedStarError(f"OpenRLHF is not installed for {python!r}; {hint}")
    version = done.stdout.strip()
    if version != OPENRLHF_VERSION:
        raise RedStarError(f"{python!r} has OpenRLHF {version}, but RedStar writes the flags of {OPENRLHF_VERSION}; {hint}")


def write_reward_module(path: Path, model_path: str, verifiers: Mapping[str, Any] | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '"""Written by RedStar: OpenRLHF\'s reward function, RedStar\'s rule reward (1 / 0 / -1)."""\n'
        "from redstar_rl.openrlhf_reward import make_reward_func\n\n"
        f"reward_func = make_reward_func({model_path!r}, {json.loads(json.dumps(verifiers or {}))!r})\n",
        encoding="utf-8")
    return path


def openrlhf_args(*, algorithm: str, options: Any, extra: Mapping[str, Any], cluster: Mapping[str, Any],
                  model_path: str, dataset: str | Path, reward_module: str | Path, output_dir: Path,
                  seed: int) -> list[str]:
    """``train_ppo_ray`` flags for the trainer's options: Table 9's settings in OpenRLHF's units.

    ``batch_size`` is ``--rollout.batch_size`` (prompts per rollout), ``mini_batch_size``
    ``--train.batch_size`` (responses per optimizer step), ``critic_warmup_steps`` (rollouts)
    ``--critic.freezing_steps`` minus one (OpenRLHF trains the actor once ``global_step >
    freezing_steps``, counting from 0), REINFORCE++'s ``advantage_estimator`` and PPO's ``lam``
    OpenRLHF's ``--algo.advantage.estimator`` and ``--algo.advantage.lambd``; the learning rates
    decay linearly without warm-up (``--{actor,critic}.lr_scheduler linear``). ``--actor.entropy_coef
    0`` adds the policy's entropy to each step's log without changing the loss. ``output_dir`` is
    made absolute; ``dataset`` and ``reward_module`` are passed as given (relative to the job's
    working directory under ``ray job submit``)."""
    o = options
    c = cluster
    output_dir = Path(output_dir).absolute()
    nodes, gpus = str(c["nodes"]), str(c["gpus_per_node"])
    estimator = "gae" if algorithm == "ppo" else extra.get("advantage_estimator", "reinforce")
    args = [
        "--actor.model_name_or_path", model_path,
        "--data.prompt_dataset", str(dataset), "--data.input_key", "input", "--data.label_key", "label",
        "--data.apply_chat_template",
        "--reward.remote_url", str(reward_module),
        "--algo.advantage.estimator", estimator,
        "--train.num_episodes", str(o.episodes),
        "--rollout.batch_size", str(o.batch_size),
        "--rollout.n_samples_per_prompt", str(o.samples_per_prompt),
        "--train.batch_size", str(o.mini_batch_size),
        "--train.micro_batch_size", str(o.micro_batch_size),
        "--rollout.micro_batch_size", str(o.micro_batch_size),
        "--train.max_epochs", str(o.update_epochs),
        "--rollout.max_new_tokens", str(o.max_new_tokens),
        "--data.max_len", str(o.max_prompt_length + o.max_new_tokens),
        "--rollout.temperature", str(o.temperature),
        "--rollout.top_p", str(o.top_p),
        "--algo.kl.init_coef", str(o.kl_coef),
        "--algo.kl.estimator", o.kl_estimator,
        "--actor.eps_clip", str(o.clip_range),
        "--algo.advantage.gamma", str(o.gamma),
        "--actor.adam.lr", str(o.learning_rate),
        "--actor.adam.weight_decay", str(o.weight_decay),
        "--actor.max_norm", str(o.max_grad_norm),
        "--actor.lr_scheduler", o.lr_scheduler, "--actor.lr_warmup_ratio", "0",
        "--actor.entropy_coef", "0",
        "--train.seed", str(seed),
        "--ckpt.output_dir", str(output_dir / "final"),
        "--ckpt.path", str(output_dir / "checkpoints"),
        "--ckpt.save_steps", str(c["save_steps"]),
        "--ds.zero_stage", str(c["zero_stage"]),
        "--actor.num_nodes", nodes, "--actor.num_gpus_per_node", gpus,
        "--ref.num_nodes", nodes, "--ref.num_gpus_per_node", gpus,
        "--vllm.num_engines", str(c["vllm_engines"]),
        "--vllm.tensor_parallel_size", str(c["vllm_tensor_parallel_size"]),
        "--vllm.gpu_memory_utilization", str(c["vllm_gpu_memory_utilization"]),
    ]
    if c["resume"]:
        args += ["--ckpt.load_enable"]
    if o.dynamic_filtering:
        # The reward module's "scores" are 1 for a correct response and 0 otherwise, so OpenRLHF's
        # filter on a prompt's mean score is the local loop's filter on its pass rate.
        low, high = o.dynamic_filtering_range
        args += ["--algo.dynamic_filtering_enable", "--algo.dynamic_filtering_range", str(low), str(high)]
    if algorithm == "ppo":
        args += [
            "--critic.num_nodes", nodes, "--critic.num_gpus_per_node", gpus,
            "--critic.adam.lr", str(extra["critic_learning_rate"]),
            "--critic.adam.weight_decay", str(o.weight_decay),
            "--critic.max_norm", str(o.max_grad_norm),
            "--critic.lr_scheduler", o.lr_scheduler, "--critic.lr_warmup_ratio", "0",
            "--critic.freezing_steps", str(extra["critic_warmup_steps"] - 1),
            "--critic.value_clip", str(extra["value_clip_range"]),
            "--algo.advantage.lambd", str(extra["lam"]),
        ]
        if extra.get("critic_model"):
            args += ["--critic.model_name_or_path", absolute_model(extra["critic_model"])]
    if c["colocate_all"]:
        args += ["--train.colocate_all", "--vllm.enable_sleep", "--ds.enable_sleep"]
    if c["gradient_checkpointing"]:
        args += ["--actor.gradient_checkpointing_enable"]
    return args + list(c["args"])


def absolute_model(model: str) -> str:
    """A model that is a local folder as an absolute path (OpenRLHF's actors do not share the
    driver's working directory); a hub id as it is."""
    path = Path(model).expanduser()
    return str(path.absolute()) if path.exists() else model


def job_runtime_env(cluster: Mapping[str, Any], work: Path) -> dict[str, Any]:
    """The Ray job's ``runtime_env``: the user's (``openrlhf.runtime_env``) plus ``work`` as the
    working directory, which Ray uploads and unpacks on every node before a worker starts."""
    return {**dict(cluster["runtime_env"]), "working_dir": str(Path(work).absolute())}


def launch_command(cluster: Mapping[str, Any], args: Sequence[str], work: Path | None = None) -> list[str]:
    """Run the entry point with the OpenRLHF environment's interpreter, or submit it to a Ray
    cluster with ``ray job submit`` (the same interpreter, the job's ``runtime_env`` shipping
    ``work``; it streams the job's output until the job ends and fails when the job does)."""
    entry = [cluster["python"], "-m", "openrlhf.cli.train_ppo_ray", *args]
    if not cluster["ray_address"]:
        return entry
    if work is None:
        raise ValueError("a job submitted to Ray needs the working directory it ships")
    ray = str(Path(cluster["python"]).with_name("ray"))
    return [ray, "job", "submit", "--address", str(cluster["ray_address"]),
            "--runtime-env-json", json.dumps(job_runtime_env(cluster, work)), "--", *entry]


def train_on_openrlhf(trainer: Any, ctx: TrainContext) -> TrainResult:
    """Run ``trainer`` (PPO or REINFORCE++ with ``engine: openrlhf``) on OpenRLHF; ``ctx.reward``
    is not called: the reward module rebuilds the same rule reward from the verifiers in
    OpenRLHF's processes."""
    from transformers import AutoTokenizer

    from redstar.interfaces import TrainResult
    from redstar.models import resolve_model
    from redstar.trainers.reporting import StepReporter
    from redstar_rl.data import read_online_rows

    o = trainer.options
    model_path = absolute_model(str(resolve_model(ctx.model)))
    rows = read_online_rows(ctx.data_file, AutoTokenizer.from_pretrained(model_path), o.max_prompt_length)
    out = Path(ctx.output_dir).absolute()
    work = out / "openrlhf"
    job = work / "job"  # only what the job needs: Ray uploads the whole folder
    dataset = write_prompt_dataset(rows, job / PROMPT_DATASET)
    reward_module = write_reward_module(job / REWARD_MODULE, model_path, o.verifiers)
    # Under `ray job submit` both travel in the job's working directory, named relative to it.
    shipped = bool(o.openrlhf["ray_address"])
    args = openrlhf_args(
        algorithm=trainer.name, options=o, extra=trainer.engine_options(), cluster=o.openrlhf, model_path=model_path,
        dataset=PROMPT_DATASET if shipped else dataset, reward_module=REWARD_MODULE if shipped else reward_module,
        output_dir=out, seed=ctx.seed if o.seed is None else o.seed,
    )
    # OpenRLHF's global step is a rollout; its prompt loader drops a short last batch.
    total = max(1, len(rows) // o.batch_size) * o.episodes
    reporter = StepReporter(ctx.metrics_file, ctx.on_step)
    metrics = run_openrlhf(launch_command(o.openrlhf, args, job), work / "openrlhf.log", total, reporter)
    final = out / "final"
    if not (final / "config.json").is_file():
        raise RedStarError(f"OpenRLHF finished without saving a model in {final}; see {work / 'openrlhf.log'}")
    return TrainResult(model_path=final, metrics=metrics)


def parse_step_line(line: str) -> tuple[int, dict[str, float]] | None:
    """``(global_step, numeric metrics)`` from OpenRLHF's ``✨ Global step N: {...}`` log line."""
    match = STEP_LINE.search(line)
    if match is None:
        return None
    try:
        status = ast.literal_eval(match.group(2))
    except (ValueError, SyntaxError):
        return int(match.group(1)), {}
    metrics = {str(k): float(v) for k, v in status.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return int(match.group(1)), metrics


def run_openrlhf(command: Sequence[str], log_file: Path, total_steps: int, reporter: Any) -> dict[str, float]:
    """Run ``command``, copying its output to ``log_file`` and each step's metrics to
    ``reporter``; returns the last step's metrics, plus ``reward_error_rate``, the mean over steps
    of the share of responses whose verification failed (:mod:`redstar_rl.openrlhf_reward` counts
    them per step as ``reward_error``). A failure names the log and quotes its end."""
    last: dict[str, float] = {}
    errors: list[float] = []
    tail: list[str] = []
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace")
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            tail = (tail + [line.rstrip()])[-20:]
            parsed = parse_step_line(line)
            if parsed is not None:
                step, metrics = parsed
                last = metrics
                errors.append(metrics.get("reward_error", 0.0))
                reporter.report(step, max(total_steps, step), metrics)
        code = process.wait()
    if code != 0:
        raise RedStarError(f"OpenRLHF exited with status {code}; its output is in {log_file}. Last lines:\n"
                           + "\n".join(tail))
    if errors:
        last = {**last, "reward_error_rate": sum(errors) / len(errors)}
    return last
