"""The ``redstar`` command line: one module per command, on the service layer the run pipeline
uses too (:mod:`redstar.services`). Built by :func:`build_cli` (never at import time) so that
tests and embedding programs can build it against their own plugin host; plugins add commands
through the ``redstar_register_commands`` hook and reuse :mod:`redstar.cli.options`."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import click

from redstar import __version__
from redstar.cli.group import DebugAwareGroup
from redstar.plugins import Host, get_host


def build_cli(host: Host | None = None) -> click.Group:
    """Build the ``redstar`` command group. With no ``host``, the process-wide one is used
    (loaded from entry points, honouring ``--plugins``/``REDSTAR_PLUGINS``)."""
    from redstar.cli.evaluate import eval_cmd
    from redstar.cli.plugins import plugins
    from redstar.cli.recipe import recipe
    from redstar.cli.report import report
    from redstar.cli.run import curate, run, train
    from redstar.cli.sweep import sweep
    from redstar.cli.verify import verify
    from redstar.export import export
    from redstar.scaffold import new_plugin

    @click.group(name="redstar", cls=DebugAwareGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="redstar")
    @click.option("--debug", is_flag=True, help="Show full tracebacks instead of short error messages (also: REDSTAR_DEBUG=1).")
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

    for command in (run, curate, train, eval_cmd, report, plugins, verify, recipe, new_plugin, export, sweep):
        cli.add_command(command)
    for _, _result in (host or get_host()).call_each("redstar_register_commands", cli=cli):
        pass
    return cli


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
