r"""Times of day written in their usual ways: ``3:30 PM``, ``3:30 \text{ p.m.}``, ``15:30``,
``3{:}30``, ``15\colon 30``, ``3 PM``, ``9:05:30 am``.

:func:`same_time` compares two of them. When neither says ``a.m.`` or ``p.m.``, the same clock
reading is equal (``3{:}30`` = ``03:30``) and different ones are left to the other rules, which read
``a:b`` as a ratio (``12:18`` = ``10:15``, ``3:30`` is not ``15:30``). When one does, they must be
able to mean the same moment, and a gold with ``a.m.``/``p.m.`` equals only a time of day: ``3:30 PM`` is 15:30 and
``12:15 AM`` is 00:15, and a reading without ``a.m.``/``p.m.`` means what it says if it is a 24-hour
one (``15:30``, ``03:30``, ``0:15``) and either half of the day if its hour is 1-12 without a leading
zero (``3:30`` = ``3:30 PM`` = ``3:30 AM``, but ``03:30`` is not ``3:30 PM``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: Longer texts are not times (and are never scanned).
MAX_CHARS = 100
#: What is removed before reading: math delimiters, spacing commands, ``\text{`` wrappers (their
#: braces go with the other braces), spaces and dots (``p.m.``).
NOISE = re.compile(r"\\(?:text|mathrm|textrm|mbox|rm|operatorname)(?![a-zA-Z])|\\[,;:! ]|\\left|\\right|[\s$~{}.]")
COLON = re.compile(r"\\colon(?![a-zA-Z])")
TIME = re.compile(r"(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?(am|pm)?")


class Time(NamedTuple):
    """A time of day as written: ``half`` is ``"am"``, ``"pm"`` or None (not said)."""

    hour: int
    minute: int
    second: int
    half: str | None
    leading_zero: bool

    def seconds(self) -> frozenset[int]:
        """The seconds after midnight it may mean."""
        rest = self.minute * 60 + self.second
        if self.half is not None:
            return frozenset({(self.hour % 12 + (12 if self.half == "pm" else 0)) * 3600 + rest})
        if 1 <= self.hour <= 12 and not self.leading_zero:
            return frozenset({self.hour % 12 * 3600 + rest, (self.hour % 12 + 12) * 3600 + rest})
        return frozenset({self.hour * 3600 + rest})


def read(text: str) -> Time | None:
    """The time of day ``text`` states, or None when it is not one."""
    if len(text) > MAX_CHARS or (":" not in text and "colon" not in text and "m" not in text.lower()):
        return None
    compact = NOISE.sub("", COLON.sub(":", text)).lower()
    match = TIME.fullmatch(compact)
    if match is None:
        return None
    hour_text, minutes, seconds, half = match.groups()
    if minutes is None and half is None:
        return None  # a bare number is not a time
    hour, minute, second = int(hour_text), int(minutes or 0), int(seconds or 0)
    if minute > 59 or second > 59 or hour > (12 if half else 23) or half and hour == 0:
        return None
    return Time(hour, minute, second, half, hour_text.startswith("0") and len(hour_text) == 2)


def same_time(gold: str, answer: str) -> bool | None:
    """Whether two answers are the same time of day; None when this cannot tell (then they are
    compared as anything else is)."""
    gold_time = read(gold)
    if gold_time is None:
        return None
    answer_time = read(answer)
    if answer_time is None:
        # A gold with a.m. or p.m. is a time of day, and only a time of day equals it.
        return False if gold_time.half else None
    if gold_time.half is None and answer_time.half is None:
        # Neither says a.m. or p.m.: the same clock reading is the same answer (3{:}30 = 03:30);
        # different ones may still be equal ratios (12:18 = 10:15), decided as usual.
        return True if gold_time[:3] == answer_time[:3] else None
    return bool(gold_time.seconds() & answer_time.seconds())
