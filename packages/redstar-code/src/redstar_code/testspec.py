"""A problem's tests, read from TACO's ``input_output`` JSON string.

TACO stores a problem's tests as one JSON object (a string inside the row)::

    {"inputs": [...], "outputs": [...], "fn_name": "optional"}

- without ``fn_name`` (standard input): each input is the whole text fed to standard input and
  each output the whole expected standard output (either may also be a list of lines, which TACO
  joins with newlines);
- with ``fn_name`` (call-based): each input is the list of arguments and each output the expected
  return value (often wrapped in a one-element list, see :mod:`redstar_code.compare`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

STDIN = "stdin"
CALL = "call"


class TestSpecError(ValueError):
    """The ``input_output`` JSON is malformed; ``field`` names the part (``input_output.inputs[3]``)."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, message: str, field: str = "input_output") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TestSpec:
    """Parsed tests. ``inputs[i]`` is the stdin text (standard input) or the argument list
    (call-based); ``outputs[i]`` the expected stdout text or return value."""

    __test__ = False  # not a pytest test class, despite the name

    kind: str
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    fn_name: str | None = None

    @property
    def call_based(self) -> bool:
        return self.kind == CALL

    def __len__(self) -> int:
        return len(self.inputs)

    def run_order(self) -> list[int]:
        """Test indices, smallest input first: a wrong program usually fails on a small test too,
        and that one is the quickest to run."""
        return sorted(range(len(self.inputs)), key=lambda i: (_size(self.inputs[i]), i))


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


@lru_cache(maxsize=512)
def parse_tests(text: str) -> TestSpec:
    """Parse and validate TACO's ``input_output`` string. Cached: the candidates of one problem
    share it. Raises :class:`TestSpecError`."""
    if not isinstance(text, str):
        raise TestSpecError(f"must be a JSON string, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TestSpecError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise TestSpecError(f"must be a JSON object with inputs and outputs, got {type(data).__name__}")
    for key in ("inputs", "outputs"):
        if key not in data:
            raise TestSpecError(f"missing {key!r}", field=f"input_output.{key}")
        if not isinstance(data[key], list):
            raise TestSpecError(f"{key!r} must be a list, got {type(data[key]).__name__}", field=f"input_output.{key}")
    inputs, outputs = data["inputs"], data["outputs"]
    if len(inputs) != len(outputs):
        raise TestSpecError(f"{len(inputs)} inputs but {len(outputs)} outputs", field="input_output.outputs")
    if not inputs:
        # A problem without tests would accept any program.
        raise TestSpecError("no tests (inputs is empty)", field="input_output.inputs")
    fn_name = data.get("fn_name")
    if fn_name is not None and fn_name != "":
        if not isinstance(fn_name, str) or not fn_name.isidentifier():
            raise TestSpecError(f"fn_name must be a Python identifier, got {fn_name!r}", field="input_output.fn_name")
        for i, args in enumerate(inputs):
            if not isinstance(args, list):
                raise TestSpecError(
                    f"a call-based input is the list of arguments, got {type(args).__name__}",
                    field=f"input_output.inputs[{i}]",
                )
        return TestSpec(CALL, tuple(inputs), tuple(outputs), fn_name)
    return TestSpec(
        STDIN,
        tuple(_text(v, f"input_output.inputs[{i}]") for i, v in enumerate(inputs)),
        tuple(_text(v, f"input_output.outputs[{i}]") for i, v in enumerate(outputs)),
    )


def _text(value: Any, field: str) -> str:
    """Standard-input tests are text, or lists of lines that TACO joins with newlines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "\n".join(value)
    raise TestSpecError(f"must be a string or a list of strings, got {type(value).__name__}", field=field)
