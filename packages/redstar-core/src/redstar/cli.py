"""The ``redstar`` command line. Built by :func:`build_cli` (never at import time) so that tests
and embedding programs can build it against their own plugin host."""

from __future__ import annotations

import errno
import json
import os
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from redstar import __version__
from redstar.errors import InputError, RedStarError
from redstar.plugins import ALLOWLIST_ENV, Host, get_host

EPILOG_RUN = """\b
Examples:
  redstar run --plugins math,code              # the embedded default on CPU: tiny models, bundled data
  redstar run --recipe recipes/paper-code-math.yaml --out runs/paper   # the paper's blend, on GPUs
  redstar run --plugins math --until curate    # stop once the SFT and preference sets are built

Re-running the same command resumes an interrupted run; changing the recipe redoes only the
stages the change affects. Results: <out>/summary.json, <out>/report.html, <out>/report.md."""


#: Errors of the machine rather than of RedStar: a full disk, a folder the user may not write.
#: They become one line naming the file; any other OSError is a bug and keeps its traceback.
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG,
                      errno.EISDIR, errno.ENOTDIR, errno.EMFILE}


def environment_message(exc: OSError) -> str:
    # A write to an open file (a full disk) carries no file name; opening or creating one does.
    message = f"cannot write {exc.filename}: {exc.strerror or exc}" if exc.filename else f"a write failed: {exc.strerror or exc}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        message += " (free some space and run the same command again: a run resumes where it stopped)"
    return message


class DebugAwareGroup(click.Group):
    """Turns RedStar's user errors, and a full disk or a folder that cannot be written, into clean
    messages (exit 1); ``--debug`` shows tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RedStarError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            if exc.errno not in ENVIRONMENT_ERRNOS or (ctx.obj and ctx.obj.get("debug")):
                raise
            raise click.ClickException(environment_message(exc)) from None


def _selected(plugins: str | None) -> list[str] | None:
    return None if not plugins else [p.strip() for p in plugins.split(",") if p.strip()]


def plugins_option(fn: Any) -> Any:
    return click.option(
        "--plugins",
        metavar="NAMES",
        help="Comma-separated plugins whose domains the run covers (e.g. math,code): their parts make "
             "up the embedded default recipe. Other installed plugins (such as rl's trainers) stay "
             f"available; ${ALLOWLIST_ENV} limits which plugins load at all.",
    )(fn)


def _host(ctx: click.Context) -> Host:
    return ctx.obj["host"]


def _check_plugins(host: Host, selected: list[str] | None) -> None:
    if not selected:
        return
    loaded = set(host.plugin_names())
    for name in selected:
        if name in host.failures:
            raise RedStarError(f"plugin {name!r} failed to load: {host.failures[name]}")
        if name not in loaded:
            raise RedStarError(f"plugin {name!r} is not installed (installed: {', '.join(sorted(loaded)) or 'none'})")


def _resolve_recipe(host: Host, recipe_file: str | None, selected: list[str] | None) -> Any:
    from redstar.recipe import default_recipe, load_recipe

    if recipe_file:
        return load_recipe(recipe_file)
    return default_recipe(host, selected)


def build_cli(host: Host | None = None) -> click.Group:
    """Build the ``redstar`` command group. With no ``host``, the process-wide one is used
    (loaded from entry points, honouring ``--plugins``/``REDSTAR_PLUGINS``)."""

    @click.group(name="redstar", cls=DebugAwareGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="redstar")
    @click.option("--debug", is_flag=True, help="Show full tracebacks instead of short error messages.")
    @click.pass_context
    def cli(ctx: click.Context, debug: bool) -> None:
        """RedStar: build slow-thinking (Long-CoT) reasoning models.

        \b
        Curate hard prompts, sample a teacher's long chains of thought, verify and clean them,
        train a student with SFT then RL (DPO, PPO, REINFORCE++, GRPO), and evaluate it.

        \b
        Start here:
          redstar run --plugins math,code     # whole recipe on CPU with the tiny embedded models
          redstar plugins                     # what is installed and what each plugin provides
          redstar verify --domain math in.jsonl -o verdicts.jsonl
        """
        ctx.ensure_object(dict)
        ctx.obj["debug"] = debug
        ctx.obj["host"] = host or get_host()

    @cli.command()
    @plugins_option
    @click.option("--recipe", "recipe_file", type=click.Path(dir_okay=False), help="Recipe YAML (default: the embedded default of the selected plugins).")
    @click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: runs/<recipe name>).")
    @click.option("--until", type=click.Choice(["curate", "train", "eval", "report"]), default="report", show_default=True,
                  help="Last stage to run.")
    @click.option("--no-progress", is_flag=True, help="Do not draw progress bars.")
    @click.pass_context
    def run(ctx: click.Context, plugins: str | None, recipe_file: str | None, out: str | None, until: str,
            no_progress: bool) -> None:
        """Run a recipe end to end: curate, sample, verify, build datasets, train, evaluate, report."""
        from redstar.pipeline.runner import run_pipeline
        from redstar.progress import ProgressBoard
        from redstar.report import print_summary

        host_ = _host(ctx)
        selected = _selected(plugins)
        _check_plugins(host_, selected)
        recipe = _resolve_recipe(host_, recipe_file, selected)
        out_dir = Path(out or Path("runs") / recipe.name)
        console = Console(stderr=True)
        console.print(f"[bold]redstar run[/bold] {recipe.name} -> {out_dir}")
        summary = run_pipeline(recipe, out_dir, host_, ProgressBoard(console, enabled=not no_progress), until=until)
        print_summary(summary, Console())

    run.epilog = EPILOG_RUN

    @cli.command()
    @plugins_option
    @click.option("--recipe", "recipe_file", type=click.Path(dir_okay=False))
    @click.option("--out", type=click.Path(file_okay=False))
    @click.pass_context
    def curate(ctx: click.Context, plugins: str | None, recipe_file: str | None, out: str | None) -> None:
        """Curate only: load, score, select, decontaminate, sample, verify, clean and build the
        SFT and preference sets (same as `redstar run --until curate`)."""
        ctx.invoke(run, plugins=plugins, recipe_file=recipe_file, out=out, until="curate", no_progress=False)

    @cli.command()
    @plugins_option
    @click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True),
                  help="Train the recipe's SFT and RL stages on a curated run directory.")
    @click.option("--trainer", help="Or train one trainer directly (e.g. sft, dpo, ppo, reinforce_pp, grpo).")
    @click.option("--model", help="Starting model: path, hub id or embedded:NAME.")
    @click.option("--data", type=click.Path(dir_okay=False, exists=True), help="Data file in the trainer's format.")
    @click.option("--out", type=click.Path(file_okay=False), help="Output directory.")
    @click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Trainer option (repeatable; values parsed as YAML).")
    @click.pass_context
    def train(ctx: click.Context, plugins: str | None, run_dir: str | None, trainer: str | None, model: str | None,
              data: str | None, out: str | None, options: tuple[str, ...]) -> None:
        """Train: a run directory's SFT and RL stages, or one trainer on given data.

        \b
        Examples:
          redstar train --run runs/default-code-math
          redstar train --trainer sft --model embedded:tiny-student --data runs/x/sft.jsonl --out models/sft --option epochs=2
          redstar train --trainer dpo --model models/sft/final --data runs/x/preference.jsonl --out models/dpo
        Per-step metrics go to <out>/metrics.jsonl (or <run>/metrics/<stage>.jsonl).
        """
        from redstar.progress import ProgressBoard

        host_ = _host(ctx)
        if run_dir:
            from redstar.pipeline.runner import run_pipeline
            from redstar.recipe import load_recipe
            from redstar.report import print_summary

            recipe = load_recipe(Path(run_dir) / "recipe.yaml")
            summary = run_pipeline(recipe, run_dir, host_, ProgressBoard(Console(stderr=True)), until="train")
            print_summary(summary, Console())
            return
        if not (trainer and model and data and out):
            raise click.UsageError("give --run DIR, or all of --trainer, --model, --data and --out")
        from redstar.interfaces import TrainContext
        from redstar.models import resolve_model
        from redstar.plugins import instantiate

        cls = host_.get("trainers", trainer)
        trainer_obj = instantiate(cls, _parse_options(options))
        reward = None
        if trainer_obj.kind == "online":
            reward = _standalone_reward(host_)
        board = ProgressBoard(Console(stderr=True))
        with board, board.task(f"training {trainer}", None) as update:
            result = trainer_obj.train(TrainContext(
                model=resolve_model(model), output_dir=Path(out), data_file=Path(data), reward=reward,
                metrics_file=Path(out) / "metrics.jsonl", on_step=lambda s, t, m: update(s, t)))
        click.echo(json.dumps({"model_path": str(result.model_path), "metrics": result.metrics}, indent=2))

    @cli.command(name="eval")
    @plugins_option
    @click.option("--model", required=True, help="Model to evaluate: path, hub id or embedded:NAME.")
    @click.option("--evaluator", "evaluators", multiple=True, required=True,
                  help="Evaluator name (repeatable), e.g. math-hard, aime24, taco, geoqa.")
    @click.option("--path", "paths", multiple=True, metavar="EVALUATOR=FILE",
                  help="Full benchmark file or folder for an evaluator (default: its bundled sample).")
    @click.option("--evaluator-option", "evaluator_options", multiple=True, metavar="EVALUATOR.KEY=VALUE",
                  help="Any other evaluator option, e.g. geoqa.image_root=data/geoqa/images (repeatable).")
    @click.option("--limit", type=int, help="Evaluate only the first N problems of each benchmark.")
    @click.option("--n", "n", type=int, default=1, show_default=True, help="Samples per problem.")
    @click.option("--temperature", type=float, default=0.0, show_default=True)
    @click.option("--max-new-tokens", type=int, default=1024, show_default=True)
    @click.option("--backend", default="transformers", show_default=True, help="Sampler: transformers, vllm, openai, ...")
    @click.option("--backend-option", "backend_options", multiple=True, metavar="KEY=VALUE")
    @click.option("--out", type=click.Path(file_okay=False), default="runs/eval", show_default=True)
    @click.pass_context
    def eval_cmd(ctx: click.Context, plugins: str | None, model: str, evaluators: tuple[str, ...], paths: tuple[str, ...],
                 evaluator_options: tuple[str, ...], limit: int | None, n: int, temperature: float, max_new_tokens: int, backend: str,
                 backend_options: tuple[str, ...], out: str) -> None:
        """Evaluate a model on benchmarks: pass@1 over n samples, pass@k, majority vote,
        truncation; per-problem results in <out>/<evaluator>.jsonl.

        \b
        Examples:
          redstar eval --model embedded:tiny-student --evaluator synthetic-math-heldout
          redstar eval --model Qwen/Qwen2.5-Math-7B-Instruct --backend vllm --evaluator math-hard \\
              --path math-hard=data/math/test.jsonl --n 4 --temperature 0.6
        """
        from redstar.evaluation import evaluate
        from redstar.interfaces import SamplingParams
        from redstar.models import resolve_model
        from redstar.plugins import instantiate
        from redstar.progress import ProgressBoard
        from redstar.tables import write_json

        host_ = _host(ctx)
        path_for = dict(_split_kv(p) for p in paths)
        extra_options: dict[str, dict[str, Any]] = {}
        for key, value in _parse_options(evaluator_options).items():
            if "." not in key:
                raise click.BadParameter(f"expected EVALUATOR.KEY=VALUE, got {key!r}", param_hint="--evaluator-option")
            evaluator_name, option = key.split(".", 1)
            extra_options.setdefault(evaluator_name, {})[option] = value
        sampler = instantiate(host_.get("samplers", backend), {**_parse_options(backend_options), "model": resolve_model(model)})
        params = SamplingParams(n=n, temperature=temperature, max_new_tokens=max_new_tokens)
        scores = {}
        board = ProgressBoard(Console(stderr=True))
        try:
            with board:
                for name in evaluators:
                    cls = host_.get("evaluators", name)
                    opts: dict[str, Any] = dict(extra_options.get(name, {}))
                    if name in path_for:
                        opts["path"] = path_for[name]
                    if limit is not None:
                        opts["limit"] = limit
                    evaluator = instantiate(cls, opts)
                    verifier = host_.get("verifiers", evaluator.domain)()
                    problems = evaluator.load()
                    try:
                        with board.task(f"evaluating {name}", len(problems)) as update:
                            score = evaluate(name, problems, sampler, verifier, params, Path(out) / f"{name}.jsonl",
                                             on_progress=lambda d, t: update(d, t))
                    finally:
                        verifier.close()
                    scores[name] = score.to_dict()
        finally:
            sampler.close()
        write_json(Path(out) / "scores.json", scores)
        from redstar.report import score_table

        Console().print(score_table({"scores": {model: scores}}))

    @cli.command()
    @click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
    def report(run_dir: str) -> None:
        """Rebuild and print the report of a run directory (report.md, report.html, plots/)."""
        from redstar.report import print_summary, write_report

        summary_file = Path(run_dir) / "summary.json"
        if not summary_file.exists():
            raise RedStarError(f"{summary_file} not found: is {run_dir} a RedStar run directory?")
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        md, page = write_report(run_dir, summary)
        print_summary(summary, Console())
        click.echo(f"wrote {md} and {page}")

    @cli.command()
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output (always with every option).")
    @click.option("--all", "show_all", is_flag=True, help="Include core's built-in plugins.")
    @click.option("--options", "show_options", is_flag=True,
                  help="Also list each registered class's options: type, default and what it does.")
    @click.argument("names", nargs=-1)
    @click.pass_context
    def plugins(ctx: click.Context, as_json: bool, show_all: bool, show_options: bool, names: tuple[str, ...]) -> None:
        """List installed plugins, their versions and what each registers; with --options (or
        --json), the options each registered class takes, as a recipe would pass them.

        \b
        Examples:
          redstar plugins
          redstar plugins --options code        # the code plugin's classes and their options
          redstar plugins --json | jq '.[].classes'
        """
        from redstar.plugin_options import describe_options

        host_ = _host(ctx)
        registry = host_.registry  # registering is what fills in `provides` and any failures

        def classes(provides: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
            return {kind: {key: {"class": f"{registry.items[kind][key].__module__}.{registry.items[kind][key].__qualname__}",
                                 "options": describe_options(registry.items[kind][key])}
                           for key in keys if key in registry.items.get(kind, {})}
                    for kind, keys in provides.items()}

        rows = [
            {"name": i.name, "version": i.version, "module": i.module, "builtin": i.builtin,
             "provides": i.provides, "hooks": i.hooks, "error": host_.failures.get(i.name),
             "classes": classes(i.provides)}
            for i in host_.infos.values() if show_all or not i.builtin or i.name in names
        ]
        known = {r["name"] for r in rows}
        rows += [{"name": n, "version": None, "module": None, "builtin": False, "provides": {}, "hooks": [], "error": e,
                  "classes": {}}
                 for n, e in host_.failures.items() if n not in known and (show_all or not n.startswith("core:"))]
        if names:
            unknown = sorted(set(names) - {r["name"] for r in rows})
            if unknown:
                raise RedStarError(f"no installed plugin named {', '.join(unknown)} "
                                   f"(installed: {', '.join(sorted(r['name'] for r in rows))})")
            rows = [r for r in rows if r["name"] in names]
        if as_json:
            click.echo(json.dumps(rows, indent=2, default=repr))
            return
        table = Table(title="RedStar plugins")
        for col in ("plugin", "version", "provides", "status"):
            table.add_column(col)
        for r in rows:
            provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["provides"].items()) or "-"
            table.add_row(r["name"], r["version"] or "-", provides, f"[red]{r['error']}" if r["error"] else "ok")
        console = Console()
        console.print(table)
        if not show_options:
            console.print("[dim]redstar plugins --options [NAME] lists each class's options[/dim]")
            return
        for r in rows:
            for kind, by_key in r["classes"].items():
                for key, info in by_key.items():
                    options = Table(title=f"{r['name']}: {kind[:-1]} {key!r} ({info['class']})", title_justify="left")
                    for col in ("option", "type", "default", "what it does"):
                        options.add_column(col, overflow="fold")
                    for o in info["options"]:
                        default = "(required)" if o["required"] else repr(o["default"])
                        options.add_row(o["name"], o["type"] or "-", default, o["doc"] or "-")
                    if not info["options"]:
                        options.add_row("-", "-", "-", "takes no options")
                    console.print(options)

    @cli.command()
    @click.option("--domain", required=True, help="Verifier domain: math, code, geo, ...")
    @click.argument("input_file", type=click.Path(dir_okay=False))
    @click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write input rows plus verdict fields here (JSONL).")
    @click.option("--recipe", "recipe_file", type=click.Path(dir_okay=False),
                  help="Take the verifier's options from this recipe's verifiers.<domain> section.")
    @click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
                  help="A verifier option, as in a recipe's verifiers.<domain> (repeatable; values parsed as "
                       "YAML; overrides --recipe), e.g. timeout=10, mode=lenient, float_tolerance=1e-6.")
    @click.pass_context
    def verify(ctx: click.Context, domain: str, input_file: str, output: str | None, recipe_file: str | None,
               options: tuple[str, ...]) -> None:
        """Verify responses against references.

        Each input line is a JSON object with `response` and `reference` (for code, TACO's
        `input_output` JSON string; for geo, the choice letter, with `metadata.choices`).
        Each output line is the input plus `correct`, `reward` (1 / 0 / -1), `reason` and
        `extracted`. A summary table follows.

        \b
        Examples:
          echo '{"response": "... so \\\\boxed{1/2}", "reference": "0.5"}' > in.jsonl
          redstar verify --domain math in.jsonl -o out.jsonl
          redstar verify --domain code programs.jsonl --option timeout=10 --option mode=lenient
          redstar verify --domain code programs.jsonl --recipe my.yaml   # its verifiers.code options
        """
        from redstar.records import Prompt
        from redstar.tables import dumps_line, iter_jsonl, write_table

        host_ = _host(ctx)
        verifier = _build_verifier(host_, domain, recipe_file, _parse_options(options))
        rows = []
        for line, row in iter_jsonl(input_file):  # validate everything before writing anything
            for key in ("response", "reference"):
                if not isinstance(row.get(key), str):
                    problem = "missing" if key not in row else f"must be a string, got {type(row[key]).__name__}"
                    raise InputError(input_file, problem, line=line, field=key)
            if "metadata" in row and not isinstance(row["metadata"], dict):
                raise InputError(input_file, "must be an object", line=line, field="metadata")
            rows.append(row)
        prompts = [Prompt(domain=domain, source="verify", question=str(r.get("question", "")), reference=r["reference"],
                          metadata=r.get("metadata") or {}) for r in rows]
        try:
            verdicts = verifier.verify_many([(r["response"], p) for r, p in zip(rows, prompts)])
        finally:
            verifier.close()
        out_rows = [{**r, **v.to_dict()} for r, v in zip(rows, verdicts)]
        if output:
            write_table(output, out_rows)
        else:
            for r in out_rows:
                click.echo(dumps_line(r), nl=False)
        rewards = Counter(v.reward for v in verdicts)
        reasons = Counter(v.reason for v in verdicts)
        table = Table(title=f"{len(verdicts)} responses verified ({domain})")
        table.add_column("outcome")
        table.add_column("count", justify="right")
        for label, reward in (("correct (1)", 1), ("wrong (0)", 0), ("no valid answer (-1)", -1)):
            table.add_row(label, str(rewards[reward]))
        for reason, count in reasons.most_common(8):
            table.add_row(f"  reason: {reason}", str(count))
        Console(stderr=True).print(table)

    @cli.group()
    def recipe() -> None:
        """Show or check recipes."""

    @recipe.command("show")
    @plugins_option
    @click.pass_context
    def recipe_show(ctx: click.Context, plugins: str | None) -> None:
        """Print the embedded default recipe of the selected plugins (a starting point to edit)."""
        from redstar.recipe import dump

        host_ = _host(ctx.find_root())
        selected = _selected(plugins)
        _check_plugins(host_, selected)
        click.echo(dump(_resolve_recipe(host_, None, selected)))

    @recipe.command("check")
    @click.argument("recipe_file", type=click.Path(dir_okay=False))
    @click.option("--skip-paths", is_flag=True,
                  help="Do not check that local model paths exist (a recipe for another machine, or whose student "
                       "an earlier run produces).")
    @click.pass_context
    def recipe_check(ctx: click.Context, recipe_file: str, skip_paths: bool) -> None:
        """Validate a recipe file: its keys, types and values; that every plugin it names is
        installed and accepts the options given; and that its model paths exist: all that a run
        checks before its first stage. Prints the recipe with every default filled in."""
        from redstar.pipeline.context import PluginContext
        from redstar.pipeline.preflight import preflight
        from redstar.recipe import dump, load_recipe

        loaded = load_recipe(recipe_file)
        checking = PluginContext(recipe=loaded, host=_host(ctx.find_root()))
        try:
            preflight(checking, check_paths=not skip_paths)
        finally:
            checking.close()
        click.echo(dump(loaded))

    from redstar.export import export
    from redstar.scaffold import new_plugin

    cli.add_command(new_plugin)
    cli.add_command(export)

    active_host = host or get_host()
    for _, _result in active_host.call_each("redstar_register_commands", cli=cli):
        pass
    return cli


def _split_kv(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
    key, value = item.split("=", 1)
    return key.strip(), value


def _build_verifier(host: Host, domain: str, recipe_file: str | None, options: dict[str, Any]) -> Any:
    """The ``domain`` verifier with the options a run would give it: the recipe's
    ``verifiers.<domain>`` (when a recipe is given), overridden by ``options``."""
    from redstar.errors import RecipeError
    from redstar.plugins import instantiate
    from redstar.recipe import load_recipe

    merged: dict[str, Any] = {}
    key = f"verifiers.{domain}"
    if recipe_file:
        merged.update(load_recipe(recipe_file).verifiers.get(domain, {}))
    merged.update(options)

    def where(option: str | None, message: str) -> Exception:
        if (option is not None and option in options) or (option is None and not recipe_file):
            return click.BadParameter(message, param_hint="--option" if option is None else f"--option {option}")
        return RecipeError(recipe_file, key if option is None else f"{key}.{option}", message)

    return instantiate(host.get("verifiers", domain), merged, where)


def _parse_options(items: tuple[str, ...]) -> dict[str, Any]:
    from redstar.recipe import parse_yaml

    return {k: parse_yaml(v) for k, v in map(_split_kv, items)}


def _standalone_reward(host: Host) -> Any:
    verifiers: dict[str, Any] = {}

    def reward(rows: Any, responses: Any) -> list[float]:
        out = []
        for row, response in zip(rows, responses):
            domain = row["domain"]
            if domain not in verifiers:
                verifiers[domain] = host.get("verifiers", domain)()
            out.append(float(verifiers[domain].verify(response, row["reference"], row.get("metadata") or {}).reward))
        return out

    return reward


def _quiet_deepspeed_on_cpu() -> None:
    """DeepSpeed announces its CPU fallback on stdout when it is imported (by transformers'
    trainers), which would corrupt ``--json`` output. On a Linux machine with no NVIDIA or ROCm
    device it can only choose the CPU, so tell it up front."""
    if "DS_ACCELERATOR" in os.environ or not sys.platform.startswith("linux"):
        return
    dev = Path("/dev")
    if not any(dev.glob("nvidia[0-9]*")) and not (dev / "kfd").exists():
        os.environ["DS_ACCELERATOR"] = "cpu"


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    _quiet_deepspeed_on_cpu()
    # RedStar draws one progress board per run; the libraries' own per-file bars (weights
    # loading, shard writing, dataset tokenizing) would interleave with it. Set the variables to
    # 0 to see them.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    # TRL reads transformers' deprecated `is_gradient_checkpointing` on every SFT/DPO run: TRL's
    # to change, nothing a RedStar user can act on.
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
    build_cli()(args=argv, prog_name="redstar")
