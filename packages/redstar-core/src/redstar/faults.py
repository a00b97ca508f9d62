"""A plugin's fault in one line: which plugin (its distribution and entry point), which class and
method or hook, in which stage, and what went wrong.

A plugin author who made a mistake (a scorer that returns a string, a source whose ``load``
raises, a sampler that returns one completion too few) should read what to fix, not a 60-line
traceback through RedStar's internals. Two mechanisms give that:

- the contract checks below, called where RedStar receives what a plugin's method returned
  (types and lengths), raise :class:`PluginFault` naming the expected and the received;
- :func:`attribute` reads an exception's traceback and, when the exception was raised in a
  plugin's code, names the plugin and the method RedStar called (run steps and the CLI use it).

Which plugin owns a class or a module is recorded here by the plugin host as it registers
plugins (:func:`record_plugin`, :func:`record_class`), process-wide: a class belongs to the plugin
that registered it whichever host later builds it. ``--debug`` (or ``REDSTAR_DEBUG=1``) shows the
full traceback, which the fault keeps as its ``__cause__``.
"""

from __future__ import annotations

import math
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from redstar.errors import PluginError, RedStarError

DEBUG_ENV = "REDSTAR_DEBUG"
DEBUG_HINT = "--debug or REDSTAR_DEBUG=1 shows the traceback"


@dataclass(frozen=True)
class Origin:
    """A loaded plugin as a fault names it."""

    name: str
    module: str
    dist: str | None = None
    version: str | None = None
    entry_point: str | None = None  # ``dice = redstar_dice.plugin``
    builtin: bool = False

    def describe(self) -> str:
        if self.builtin:
            return f"core plugin {self.name!r} ({self.module})"
        where = []
        if self.dist:
            where.append(f"{self.dist} {self.version}" if self.version else self.dist)
        if self.entry_point:
            where.append(f"entry point {self.entry_point}")
        elif self.module:
            where.append(f"module {self.module}")
        return f"plugin {self.name!r} ({', '.join(where)})" if where else f"plugin {self.name!r}"


_classes: dict[type, tuple[Origin, str, str]] = {}  # class -> (plugin, kind, registered name)
_packages: dict[str, Origin] = {}  # package of a plugin's code -> plugin


def record_plugin(origin: Origin, modules: Sequence[str] = ()) -> None:
    """Remember which plugin the code of ``modules`` (and their packages) belongs to. Core's own
    modules are never attributed to a plugin: a fault there is RedStar's, with its traceback."""
    if origin.builtin:
        return
    for module in {origin.module, *modules}:
        for owned in (module, _regular_package(module)):
            if owned and owned != "redstar" and not owned.startswith("redstar."):
                _packages[owned] = origin


def _regular_package(module: str) -> str | None:
    """The package holding ``module`` when it is a regular one (with an ``__init__``). A namespace
    package is shared by definition (several distributions, or a test directory imported in
    pytest's importlib mode), so the code beside a plugin there is not the plugin's."""
    if "." not in module:
        return None
    package = module.rsplit(".", 1)[0]
    found = sys.modules.get(package)
    return package if found is not None and getattr(found, "__file__", None) else None


def record_class(cls: type, origin: Origin, kind: str, key: str) -> None:
    _classes[cls] = (origin, kind, key)
    record_plugin(origin, [cls.__module__])


def origin_of(obj: Any) -> Origin | None:
    """The plugin that registered ``obj``'s class (or ``obj``, a class), else the plugin whose
    package holds its code."""
    cls = obj if isinstance(obj, type) else type(obj)
    for klass in cls.__mro__:
        if klass in _classes:
            return _classes[klass][0]
    return _module_origin(cls.__module__)


def _module_origin(module: str | None) -> Origin | None:
    if not module:
        return None
    probe = module
    while probe:
        if probe in _packages:
            return _packages[probe]
        probe = probe.rsplit(".", 1)[0] if "." in probe else ""
    return None


def component(obj: Any, method: str | None = None) -> str:
    """``scorer 'length' (LengthScorer.score)``: what a recipe calls it and the code behind it."""
    cls = obj if isinstance(obj, type) else type(obj)
    code = f"{cls.__qualname__}.{method}" if method else cls.__qualname__
    for klass in cls.__mro__:
        if klass in _classes:
            _, kind, key = _classes[klass]
            return f"{kind[:-1]} {key!r} ({code})"
    return code


# -- the stage being run ---------------------------------------------------------------------
_stage: ContextVar[str | None] = ContextVar("redstar_stage", default=None)


@contextmanager
def in_stage(name: str) -> Iterator[None]:
    """Faults raised inside name the stage ``name`` (a run step: ``score``, ``train:sft``...)."""
    token = _stage.set(name)
    try:
        yield
    finally:
        _stage.reset(token)


def current_stage() -> str | None:
    return _stage.get()


class PluginFault(PluginError):
    """A plugin's code raised, or returned what its contract does not allow. The message is one
    line: the plugin, the component and method (or hook), the stage, the problem."""

    def __init__(self, plugin: str, where: str, problem: str, stage: str | None = None) -> None:
        self.plugin, self.where, self.problem, self.stage = plugin, where, problem, stage
        in_stage_ = f" in stage {stage!r}" if stage else ""
        super().__init__(f"{plugin}: {where}{in_stage_}: {problem}")


def fault(obj: Any, method: str | None, problem: str, stage: str | None = None) -> PluginFault:
    """A :class:`PluginFault` of ``obj`` (an instance or a class) in ``method``."""
    origin = origin_of(obj)
    cls = obj if isinstance(obj, type) else type(obj)
    plugin = origin.describe() if origin else f"module {cls.__module__}"
    return PluginFault(plugin, component(obj, method), problem, stage or current_stage())


def hook_fault(origin: Origin, hook: str, problem: str, stage: str | None = None) -> PluginFault:
    return PluginFault(origin.describe(), f"hook {hook}", problem, stage or current_stage())


# -- what a value is, in a message -----------------------------------------------------------
def shown(value: Any, limit: int = 40) -> str:
    """``a str ('many')``, ``a list of 3``, ``None``: what a plugin returned, briefly."""
    if value is None:
        return "None"
    name = type(value).__name__
    a = "an" if name[:1].lower() in "aeiou" else "a"
    if isinstance(value, (str, bytes)):
        text = repr(value)
        return f"{a} {name} ({text[:limit] + '...' if len(text) > limit else text})"
    if isinstance(value, (list, tuple, dict, set)):
        return f"{a} {name} of {len(value)}"
    if isinstance(value, (int, float)):
        return f"{a} {name} ({value!r})"
    return f"{a} {name}"


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


# -- attributing a raised exception ----------------------------------------------------------
def _frames(tb: TracebackType | None) -> list[Any]:
    out = []
    while tb is not None:
        out.append(tb.tb_frame)
        tb = tb.tb_next
    return out


def _is_core(module: str) -> bool:
    return module == "redstar" or module.startswith("redstar.")


def attribute(exc: BaseException, stage: str | None = None) -> PluginFault | None:
    """A one-line :class:`PluginFault` for ``exc`` when it was raised in a loaded plugin's code
    (some frame of its traceback is the plugin's), else None: RedStar's own errors already read
    well, and an exception of RedStar's own code is a bug that keeps its traceback."""
    if isinstance(exc, RedStarError) or not isinstance(exc, Exception):
        return None
    frames = _frames(exc.__traceback__)
    modules = [frame.f_globals.get("__name__", "") for frame in frames]
    owners = [None if _is_core(m) else _module_origin(m) for m in modules]
    inner = max((i for i, o in enumerate(owners) if o is not None), default=None)
    if inner is None:
        return None
    origin = owners[inner]
    assert origin is not None
    # The call RedStar made into the plugin: going out from where it raised, the outermost
    # frame of the plugin before RedStar's own code.
    entry = inner
    for i in range(inner, -1, -1):
        if _is_core(modules[i]):
            break
        if owners[i] == origin:
            entry = i
    frame = frames[entry]
    code = frame.f_code
    qualname = getattr(code, "co_qualname", code.co_name)
    this = frame.f_locals.get("self")
    where = component(this, code.co_name) if this is not None and origin_of(this) == origin else qualname
    raised_at = frames[inner]
    location = f"{raised_at.f_code.co_filename.rsplit('/', 1)[-1]}:{exc_line(exc, raised_at)}"
    problem = f"raised {type(exc).__name__}: {one_line(str(exc)) or '(no message)'} (at {location}; {DEBUG_HINT})"
    return PluginFault(origin.describe(), where, problem, stage or current_stage())


def exc_line(exc: BaseException, frame: Any) -> int:
    for summary in reversed(traceback.extract_tb(exc.__traceback__)):
        if summary.filename == frame.f_code.co_filename:
            return summary.lineno or 0
    return frame.f_lineno


@contextmanager
def plugin_code(stage: str | None = None) -> Iterator[None]:
    """Turn an exception raised in a plugin's code inside the block into a :class:`PluginFault`
    (its traceback kept as the cause); anything else passes unchanged."""
    try:
        yield
    except Exception as exc:
        found = attribute(exc, stage)
        if found is None:
            raise
        raise found from exc


# -- contracts: what RedStar checks where a plugin's method returns --------------------------
def _is_level(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 1 <= value <= 10


def check_levels(scorer: Any, levels: Any, prompts: int) -> list[float]:
    """``Scorer.score`` returns one level in [1, 10] per prompt, in order."""
    expected = f"a list of {prompts} levels (numbers from 1 to 10, one per prompt)"
    if isinstance(levels, (str, bytes, dict)) or not isinstance(levels, Sequence):
        raise fault(scorer, "score", f"returned {shown(levels)}; expected {expected}")
    if len(levels) != prompts:
        raise fault(scorer, "score", f"returned {len(levels)} levels for {prompts} prompts; expected {expected}")
    for i, level in enumerate(levels):
        if not _is_level(level):
            raise fault(scorer, "score", f"returned {shown(level)} as the level of prompt {i}; expected {expected}")
    return [float(level) for level in levels]


def check_prompt(owner: Any, method: str, item: Any, index: int) -> Any:
    """A source's ``load`` yields, and an evaluator's ``load`` returns, :class:`Prompt` records."""
    from redstar.records import Prompt

    if not isinstance(item, Prompt):
        raise fault(owner, method, f"gave {shown(item)} as item {index}; expected a redstar.records.Prompt")
    return item


def check_problems(evaluator: Any, problems: Any) -> list[Any]:
    """``Evaluator.load`` returns a list of :class:`Prompt` records."""
    check_iterable(evaluator, "load", problems, "a list of redstar.records.Prompt")
    return [check_prompt(evaluator, "load", item, i) for i, item in enumerate(problems)]


def check_iterable(owner: Any, method: str, value: Any, expected: str) -> Any:
    if value is None or isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise fault(owner, method, f"returned {shown(value)}; expected {expected}")
    return value


def check_completions(sampler: Any, out: Any, conversations: int, n: int) -> Any:
    """``Sampler.generate`` returns ``n`` :class:`Completion` s for each conversation, in order."""
    from redstar.interfaces import Completion

    expected = f"a list of {conversations} lists (one per conversation) of {n} Completion each"
    if isinstance(out, (str, bytes, dict)) or not isinstance(out, Sequence):
        raise fault(sampler, "generate", f"returned {shown(out)}; expected {expected}")
    if len(out) != conversations:
        raise fault(sampler, "generate", f"returned {len(out)} lists for {conversations} conversations; "
                                         f"expected {expected}")
    for c, group in enumerate(out):
        if isinstance(group, (str, bytes, dict)) or not isinstance(group, Sequence):
            raise fault(sampler, "generate", f"returned {shown(group)} for conversation {c}; expected {expected}")
        if len(group) != n:
            raise fault(sampler, "generate", f"returned {len(group)} completions for conversation {c} with "
                                             f"params.n = {n}; expected {expected}")
        for completion in group:
            # None is allowed only where Ctrl-C cut a call short (SamplingInterrupted), never here.
            if not isinstance(completion, Completion) or not isinstance(completion.text, str):
                got = shown(completion) if not isinstance(completion, Completion) else \
                    f"a Completion whose text is {shown(completion.text)}"
                raise fault(sampler, "generate", f"returned {got} for conversation {c}; expected "
                                                 f"redstar.interfaces.Completion(text: str, finish_reason)")
    return out


def check_verdicts(verifier: Any, verdicts: Any, count: int, method: str = "verify_many") -> Any:
    """``Verifier.verify_many`` returns one :class:`Verdict` per pair, in order."""
    from redstar.interfaces import Verifier
    from redstar.records import Verdict

    if method == "verify_many" and getattr(type(verifier), "verify_many", None) is Verifier.verify_many:
        # the base class's verify_many only calls verify: the author wrote verify
        for verdict in verdicts:
            check_verdict(verifier, verdict)
        return verdicts
    expected = f"a list of {count} redstar.records.Verdict (one per response)"
    if isinstance(verdicts, (str, bytes, dict)) or not isinstance(verdicts, Sequence):
        raise fault(verifier, method, f"returned {shown(verdicts)}; expected {expected}")
    if len(verdicts) != count:
        raise fault(verifier, method, f"returned {len(verdicts)} verdicts for {count} responses; expected {expected}")
    for verdict in verdicts:
        if not isinstance(verdict, Verdict):
            raise fault(verifier, method, f"returned {shown(verdict)} among its verdicts; expected {expected}")
    return verdicts


def check_verdict(verifier: Any, verdict: Any) -> Any:
    from redstar.records import Verdict

    if not isinstance(verdict, Verdict):
        raise fault(verifier, "verify", f"returned {shown(verdict)}; expected a redstar.records.Verdict "
                                        f"(Verdict.right(answer), Verdict.wrong(answer) or Verdict.no_answer())")
    return verdict


def check_reason(cleaning_filter: Any, reason: Any) -> str | None:
    """``Filter.check`` returns a drop reason (a non-empty string) or None."""
    if reason is None or (isinstance(reason, str) and reason):
        return reason
    if isinstance(reason, str):  # "" keeps the sample, which a filter should say with None
        return None
    raise fault(cleaning_filter, "check", f"returned {shown(reason)}; expected a drop reason (a str) or None to keep")


def check_train_result(trainer: Any, result: Any) -> Any:
    """``Trainer.train`` returns a :class:`TrainResult` whose ``model_path`` exists."""
    from pathlib import Path

    from redstar.interfaces import TrainResult

    if not isinstance(result, TrainResult):
        raise fault(trainer, "train", f"returned {shown(result)}; expected a redstar.interfaces.TrainResult"
                                      f"(model_path=..., metrics={{...}})")
    if not isinstance(result.model_path, (str, Path)) or not Path(result.model_path).exists():
        raise fault(trainer, "train", f"returned model_path {result.model_path!r}, which does not exist; "
                                      f"expected the folder the trained model was saved in")
    if not isinstance(result.metrics, dict):
        raise fault(trainer, "train", f"returned metrics {shown(result.metrics)}; expected a dict of name -> number")
    return result
