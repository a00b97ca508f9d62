"""Where a run's heavy work runs: sampling, verification and evaluation.

The stages say *what* to do as jobs (:class:`GenerateJob`, :class:`VerifyJob`); an
:class:`Engine` does them and hands each result back as it finishes, in any order. The stages
write every result to the run tables as it arrives, keyed by ``(prompt_id, index)`` or sample
id, so which engine did the work, in which order and on which node never changes what a run
produces (no fingerprint includes the engine).

- ``local`` (the default): this process, one sampler, one job at a time; a verification or
  cleaning batch that hangs is interrupted and redone (:mod:`~redstar.execution.watchdog`).
- ``ray``: a Ray cluster (``pip install 'redstar-core[ray]'``): sampler replicas as Ray actors
  (each a vLLM engine on its GPUs, or the transformers backend on CPU), verification (while
  sampling goes on), cleaning and set building as Ray tasks; a chunk or task whose worker died
  or hung is redone, and the driver writes each result once.

The recipe's ``execution`` section chooses (:class:`~redstar.recipe.Execution`).
"""

from __future__ import annotations

from typing import Any

from redstar.execution.base import (
    NOT_YET,
    BuildJob,
    CleanJob,
    Engine,
    EngineSampler,
    FilterSpec,
    GenerateJob,
    JobFeed,
    SamplerSpec,
    VerifyJob,
)
from redstar.execution.local import LocalEngine

__all__ = ["NOT_YET", "BuildJob", "CleanJob", "Engine", "EngineSampler", "FilterSpec", "GenerateJob", "JobFeed", "LocalEngine",
           "SamplerSpec", "VerifyJob", "engine_for"]


def engine_for(ctx: Any) -> Engine:
    """The engine ``ctx.recipe.execution`` names, for the run or command behind ``ctx`` (a
    :class:`~redstar.pipeline.context.PluginContext`)."""
    execution = ctx.recipe.execution
    if execution.engine == "ray":
        from redstar.execution.ray_engine import RayEngine

        return RayEngine(execution, verifier_options=ctx.recipe.verifiers, board=getattr(ctx, "board", None),
                         host=getattr(ctx, "host", None))
    board = getattr(ctx, "board", None)
    return LocalEngine(build_sampler=ctx.build, verifiers=ctx.verifiers, execution=execution,
                       log=None if board is None else board.log)
