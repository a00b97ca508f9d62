"""The messages between the host and the harness.

Host -> harness: messages as ``<length>\\n<marshal bytes>`` (trusted data, and ``marshal`` is
built in, so the harness imports nothing slow such as ``json``).
Harness -> host: a line of JSON with small fields, then the raw bytes of the ``frames`` it
announces (``[stdout, stderr, returned]`` lengths), so large outputs need no escaping.

- first message: ``{"programs": [source, ...], "call": None | {...}, "limits": {...},
  "preload": [module, ...], "paths": [dir, ...], "keyctl": number, "seccomp": filter}``
  (``keyctl``'s system-call number and the filter's BPF instructions, see :mod:`.guard`); answer
  ``{"ready": true,
  "compile_errors": [null | "SyntaxError: ...", ...]}`` (or ``{"ready": false, "error": ...}``
  when the harness cannot protect itself);
- then per test: ``{"program": i, "io": "stdin" | "files", "input": ...}``; answer: the run's
  outcome (see :func:`.runner.run_test`).

End of input ends the harness. Expected outputs never reach the harness: the host compares.
"""

from __future__ import annotations

import marshal
import sys

#: Types for the checker only: the harness imports nothing it does not run.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, BinaryIO


def receive(control: BinaryIO) -> Any:
    """The next message from the host, or None at the end of its input."""
    line = control.readline()
    if not line:
        return None
    return marshal.loads(control.read(int(line)))


def send(meta: dict[str, Any], frames: Sequence[bytes] = ()) -> None:
    """Answer the host: ``meta`` as a JSON line announcing the frames, then the frames."""
    meta["frames"] = [len(frame) for frame in frames]
    out = sys.stdout.buffer
    out.write(to_json(meta).encode("ascii") + b"\n")
    for frame in frames:
        out.write(frame)
    out.flush()


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def to_json(value: Any) -> str:
    """JSON for the small metadata fields (None, bools, numbers, short strings, lists, dicts)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_json_char(ch) for ch in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return "{" + ",".join(to_json(str(k)) + ":" + to_json(v) for k, v in value.items()) + "}"


def _json_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    if 0x20 <= code < 0x7F:
        return ch
    if code > 0xFFFF:  # a surrogate pair, as JSON spells characters beyond the BMP
        code -= 0x10000
        return "\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))
    return "\\u%04x" % code
