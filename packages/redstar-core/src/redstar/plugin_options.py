"""A plugin class's options, read from where they are declared: the constructor's keyword
parameters give each option's name, type hint and default; the class's Google-style docstring
gives its description (an ``Args:`` section, one entry per option)::

    class CodeVerifier(Verifier):
        \"\"\"Runs a response's program against the problem's tests.

        Args:
            timeout: Seconds one test may run before it counts as failed.
            memory_mb: Memory one test may use, in MiB.
        \"\"\"

        def __init__(self, timeout: float = 5.0, memory_mb: int = 1024) -> None: ...

An option not described in the class's own docstring (or its ``__init__``'s) is looked up in
its base classes', and in the option dataclasses their constructors take: the options every
Hugging Face trainer shares are described once, on
:class:`~redstar.trainers.settings.HFOptions`, which ``HFTrainer.__init__`` takes. An option
class that is a dataclass is described the same way (its fields are its constructor's
parameters); a field may also carry its description as ``field(metadata={"doc": "..."})``.

:func:`describe_options` is what ``redstar plugins --options`` prints. :func:`option_problems`
checks option values against the type hints with pydantic, the recipe's values as the recipe
writes them (strict: ``"3"`` is not an integer, ``3`` is a float) and each default as the plugin
declares it (a default of the wrong type, ``count: int = "many"``, is the plugin's fault and is
named as such). A hint that is ``Any``, missing, or cannot be resolved checks nothing.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from redstar.interfaces import constructor, options_of

_STRICT = ConfigDict(strict=True, allow_inf_nan=False, arbitrary_types_allowed=True)
_SECTION = re.compile(r"(Args|Arguments|Keyword Args|Keyword Arguments|Attributes|Parameters):")
_ENTRY = re.compile(r"\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(?:\s+(.*)|$)")


@dataclass(frozen=True)
class OptionSpec:
    """One option of a plugin class, as declared."""

    name: str
    hint: Any  # the resolved type hint; None when there is none to check against
    type: str | None  # the hint as written (``int | None``)
    default: Any  # ``inspect.Parameter.empty`` when the option is required
    doc: str | None
    problem: str | None  # what is wrong with the declaration itself (the plugin's fault)
    bad_default: bool = False  # the problem is a default that does not match the hint

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


def google_args(doc: str | None) -> dict[str, str]:
    """The entries of the ``Args:`` section (or ``Attributes:``, for a dataclass) of a Google-style
    docstring: name -> description, continuation lines joined with single spaces."""
    if not doc:
        return {}
    lines = inspect.cleandoc(doc).splitlines()
    out: dict[str, list[str]] = {}
    for start, line in enumerate(lines):
        if not _SECTION.fullmatch(line.strip()):
            continue
        header = len(line) - len(line.lstrip())
        entry_indent: int | None = None
        current: str | None = None
        for follow in lines[start + 1:]:
            if not follow.strip():
                continue
            indent = len(follow) - len(follow.lstrip())
            if indent <= header:
                break  # the next section, or text after the section
            if entry_indent is None:
                entry_indent = indent
            match = _ENTRY.fullmatch(follow.strip())
            if indent <= entry_indent and match:
                current = match.group(1)
                out.setdefault(current, []).append(match.group(2) or "")
            elif current is not None:
                out[current].append(follow.strip())
    return {name: " ".join(part for part in parts if part).strip() for name, parts in out.items()}


def _own_docs(cls: type) -> list[str | None]:
    """The docstrings of ``cls`` itself (not inherited): the class's, then its ``__init__``'s."""
    init = cls.__dict__.get("__init__")
    return [cls.__dict__.get("__doc__"), getattr(init, "__doc__", None)]


def option_docs(cls: type) -> dict[str, str]:
    """Each documented option of ``cls``: the first description found along the class's MRO,
    each class followed by the option dataclasses its own ``__init__`` takes."""
    docs: dict[str, str] = {}
    for klass in cls.__mro__:
        if klass is object:
            continue
        for doc in _own_docs(klass):
            for name, text in google_args(doc).items():
                docs.setdefault(name, text)
        for held in _option_dataclasses(klass):
            if held is not cls:
                for name, text in option_docs(held).items():
                    docs.setdefault(name, text)
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            described = f.metadata.get("doc") or f.metadata.get("description")
            if described:
                docs.setdefault(f.name, str(described))
    return docs


def _option_dataclasses(klass: type) -> list[type]:
    """The dataclasses the constructor defined on ``klass`` itself takes (``HFTrainer(options:
    HFOptions)``): its subclasses' options are handed over as one and described there."""
    init = klass.__dict__.get("__init__")
    if init is None or dataclasses.is_dataclass(klass):
        return []
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 - an unresolvable hint: nothing to follow
        return []
    return [h for h in hints.values() if isinstance(h, type) and dataclasses.is_dataclass(h)]


def _hints(cls: type) -> tuple[dict[str, Any], dict[str, str]]:
    """``(hints, problems)``: each constructor parameter's resolved type hint, and why a hint could
    not be resolved (a name imported only for type checkers, a typo)."""
    init = constructor(cls)
    try:
        if dataclasses.is_dataclass(cls):
            return typing.get_type_hints(cls), {}
        return typing.get_type_hints(init), {}
    except Exception:  # noqa: BLE001 - any failure: fall back to resolving each hint alone
        pass
    hints: dict[str, Any] = {}
    problems: dict[str, str] = {}
    namespace = getattr(init, "__globals__", {})
    for name, param in inspect.signature(init).parameters.items():
        annotation = param.annotation
        if annotation is inspect.Parameter.empty:
            continue
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, dict(namespace))  # noqa: S307 - the plugin's own annotation
            except Exception as exc:  # noqa: BLE001 - a hint RedStar cannot resolve is reported, not fatal
                problems[name] = f"its type hint {param.annotation!r} cannot be resolved ({type(exc).__name__}: {exc})"
                continue
        hints[name] = annotation
    return hints, problems


def _written(param: inspect.Parameter) -> str | None:
    if param.annotation is inspect.Parameter.empty:
        return None
    if isinstance(param.annotation, str):  # ``from __future__ import annotations``
        return param.annotation
    if isinstance(param.annotation, type):
        return param.annotation.__name__
    return str(param.annotation).replace("typing.", "")


def _adapter(hint: Any) -> TypeAdapter[Any] | None:
    if hint is None or hint is Any:
        return None
    try:
        return TypeAdapter(hint, config=_STRICT)
    except Exception:  # noqa: BLE001 - a type pydantic cannot check (a protocol, a bare TypeVar): unchecked
        return None


def _fails(adapter: TypeAdapter[Any], value: Any, as_data: bool) -> ValidationError | None:
    """The error of ``value`` against ``adapter``, or None. ``as_data``: ``value`` came from YAML,
    so it is checked as data (a string for a ``Path``, a list for a ``tuple``), strictly; a
    Python default passes as either."""
    try:
        text: str | None = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        text = None  # a date or a set from YAML, an object default: checked as a Python value
    as_json = [] if text is None else [lambda: adapter.validate_json(text or "", strict=True)]
    as_python = [lambda: adapter.validate_python(value, strict=True)]
    attempts = as_json + as_python if as_data else as_python + as_json
    first: ValidationError | None = None
    for attempt in attempts:
        try:
            attempt()
            return None
        except ValidationError as exc:
            first = first or exc
        except Exception:  # noqa: BLE001 - pydantic cannot check this value (an arbitrary type as JSON)
            continue
    return first


def option_specs(cls: type) -> list[OptionSpec]:
    """Every option of ``cls`` with its hint, default, description and any declaration problem
    (an unresolvable hint, a default that is not of the declared type)."""
    params = inspect.signature(constructor(cls)).parameters
    hints, problems = _hints(cls)
    docs = option_docs(cls)
    out = []
    for name, default in options_of(cls).items():
        hint = hints.get(name)
        problem = problems.get(name)
        bad_default = False
        if problem is None and default is not inspect.Parameter.empty:
            adapter = _adapter(hint)
            bad_default = adapter is not None and _fails(adapter, default, as_data=False) is not None
            if bad_default:
                problem = f"its default {default!r} is not of its declared type {_written(params[name])}"
        out.append(OptionSpec(name, hint, _written(params[name]), default, docs.get(name), problem, bad_default))
    return out


def value_problem(spec: OptionSpec, value: Any) -> str | None:
    """Why ``value`` (from a recipe or the command line) is not a valid ``spec`` option, or None."""
    adapter = _adapter(spec.hint)
    if adapter is None:
        return None
    error = _fails(adapter, value, as_data=True)
    if error is None:
        return None
    return f"must be {spec.type}, got {type(value).__name__} {value!r}"


def option_problems(cls: type, options: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """``(option, message, plugin_fault)`` for each option value of ``options`` that does not
    match its type hint, and for each default the class falls back to (an option ``options``
    does not set) that does not match its own hint (``plugin_fault`` True: the plugin's to fix).
    Unknown and missing options are for the caller to report."""
    out = []
    for spec in option_specs(cls):
        if spec.name in options:
            message = value_problem(spec, options[spec.name])
            if message:
                out.append((spec.name, message, False))
        elif spec.bad_default:
            out.append((spec.name, f"{cls.__qualname__} declares the option {spec.name!r} wrongly: {spec.problem} "
                        "(a fault of the plugin; set the option in the recipe or fix the plugin)", True))
    return out


def describe_options(cls: type) -> list[dict[str, Any]]:
    """One entry per option: ``name``, ``type`` (as annotated, or None), ``default`` (None and
    ``required: True`` when there is none), ``doc`` (its description, or None) and ``problem``
    (what is wrong with the declaration, or None)."""
    return [{"name": spec.name, "type": spec.type, "default": None if spec.required else spec.default,
             "required": spec.required, "doc": _for_people(spec.doc), "problem": spec.problem}
            for spec in option_specs(cls)]


def _for_people(doc: str | None) -> str | None:
    """A docstring's reST for the terminal: literals (````x````) and cross-references
    (``:data:`~a.b.NAME```) as plain backquotes (```x```, ```NAME```)."""
    if doc is None:
        return None
    doc = re.sub(r"``(.+?)``", r"`\1`", doc)
    return re.sub(r":\w+:`(~?)([^`]+)`", lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", doc)
