"""Pytest fixtures for plugin authors (and RedStar's own tests), installed as a ``pytest11``
plugin with redstar-core.

- ``redstar_host``: a fresh plugin host with core's built-ins and *no* installed entry points,
  installed as the process-wide host for the test, so tests never pick up whatever happens to be
  installed.
- ``register_plugin``: ``register_plugin(obj, name=...)`` adds a plugin object to that host.
- ``cli_runner``: a Click ``CliRunner``; ``invoke_cli(args)`` runs the ``redstar`` CLI built
  against the fresh host and re-raises unexpected exceptions with their traceback.
- ``tiny_lm``: path to a randomly initialised tiny Qwen2 model with a trained tokenizer and
  RedStar's chat template, built once per session.
- ``toy_domain``: registers the ``toy`` domain (:mod:`redstar.toy_domain`: a source, a verifier,
  the ``toy-teacher`` sampler and the ``toy-bench`` evaluator) in the test's host and returns a
  :class:`~redstar.toy_domain.ToyDomain`, whose ``recipe(path, **changes)`` writes a recipe that
  runs it: the place to test a sampler, scorer, filter or stage in a real run.

And one check for the author of a trainer built on :class:`~redstar.trainers.hf_run.HFTrainer`:
:func:`undeclared_config_fields` (assert it returns nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TINY_CORPUS = [
    "What is 12 + 7? <think> 12 + 7 = 19. Wait, let me verify: 19 - 7 = 12. </think> The answer is \\boxed{19}.",
    "Write a function add(a, b) that returns a + b.\n```python\ndef add(a, b):\n    return a + b\n```",
    "Read n and print n * 2.\n```python\nn = int(input())\nprint(n * 2)\n```",
    "Choices: A: 30 B: 40 C: 50 D: 60. The correct answer is option B. Answer: B",
] * 20


@pytest.fixture
def redstar_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from redstar import plugins

    monkeypatch.delenv(plugins.ALLOWLIST_ENV, raising=False)
    host = plugins.Host(load_entry_points=False)
    plugins.reset_host(host)
    try:
        yield host
    finally:
        plugins.reset_host(None)


@pytest.fixture
def register_plugin(redstar_host: Any) -> Callable[..., str]:
    def register(plugin: Any, name: str | None = None, version: str | None = "test") -> str:
        return redstar_host.register(plugin, name=name, version=version)

    return register


@pytest.fixture
def toy_domain(register_plugin: Callable[..., str]) -> Any:
    from redstar.toy_domain import ToyDomain, ToyPlugin

    register_plugin(ToyPlugin(), name="toy")
    return ToyDomain()


@pytest.fixture
def cli_runner() -> Any:
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture
def invoke_cli(redstar_host: Any, cli_runner: Any) -> Callable[..., Any]:
    """Run ``redstar ARGS`` against the test's host. Unexpected exceptions propagate with their
    traceback; clean user errors come back as a non-zero ``exit_code`` with the message."""
    from redstar.cli import build_cli

    def invoke(args: list[str], expect_exit: int | None = 0, **kwargs: Any) -> Any:
        result = cli_runner.invoke(build_cli(host=redstar_host), args, catch_exceptions=True, **kwargs)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if expect_exit is not None and result.exit_code != expect_exit:
            raise AssertionError(
                f"redstar {' '.join(args)} exited {result.exit_code}, expected {expect_exit}:\n{result.output}"
            )
        return result

    return invoke


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from redstar.tiny import build_tiny_lm

    return build_tiny_lm(tmp_path_factory.mktemp("tiny-lm"), TINY_CORPUS, vocab_size=400, hidden_size=32,
                         layers=2, heads=2, kv_heads=1)


def undeclared_config_fields(trainer: Any, ctx: Any) -> list[str]:
    """The fields of its TRL/transformers config that ``trainer`` (an ``HFTrainer``) sets in
    ``build_trainer(ctx)`` but declares nowhere: neither a shared option sets them
    (``redstar.trainers.settings.SET_BY_OPTIONS``) nor its ``config_fields``. ``extra_args`` could
    set such a field a second time, so a trainer's test asserts the list is empty."""
    from redstar.trainers.settings import SET_BY_OPTIONS, hf_trainer_args

    extras: dict[str, Any] = {}
    build = trainer.config

    def spy(config_class: type, context: Any, device: str, **fields: Any) -> Any:
        extras.update(fields)
        return build(config_class, context, device, **fields)

    trainer.config = spy
    try:
        trainer.build_trainer(ctx)
    finally:
        del trainer.config
    shared = hf_trainer_args(trainer.options, output_dir=Path(ctx.output_dir), device="cpu", run_seed=0)
    declared = {**SET_BY_OPTIONS, **type(trainer).config_fields}
    return sorted(field for field in {*shared, *extras} if field not in declared)
