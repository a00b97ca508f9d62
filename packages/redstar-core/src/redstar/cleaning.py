"""Domain-agnostic cleaning filters: over-repetition and wrong language / language mixing.

Long-CoT teachers fail in two recognisable ways besides wrong answers: they loop (the same
sentence or token run again and again until the length limit) and they drift into another
language mid-thought (QwQ's English traces slipping into Chinese). Both make poor SFT targets
even when the final answer happens to be right. The third cleaning rule, "no answer in the
required format", is the domain verifier's (reward -1) and is applied by the pipeline.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from redstar.interfaces import Filter
from redstar.records import Prompt

_WORD = re.compile(r"\S+")


def tail_period_repeats(text: str, max_period: int = 400, window: int = 4000) -> tuple[int, int]:
    """The strongest loop at the end of ``text``: ``(period, repeats)`` where the last
    ``period`` characters occur ``repeats`` times back to back. Generations that loop until the
    token limit end exactly like this."""
    tail = text[-window:]
    best = (0, 1)
    n = len(tail)
    for period in range(1, min(max_period, n // 2) + 1):
        unit = tail[n - period:]
        repeats = 1
        pos = n - 2 * period
        while pos >= 0 and tail[pos:pos + period] == unit:
            repeats += 1
            pos -= period
        if repeats >= 2 and repeats * period > best[0] * best[1]:
            best = (period, repeats)
    return best


def distinct_ngram_ratio(text: str, n: int = 8) -> float:
    """Distinct word n-grams over all word n-grams (1.0 = no n-gram ever repeats)."""
    words = _WORD.findall(text)
    if len(words) < n + 1:
        return 1.0
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams)


class RepetitionFilter(Filter):
    """Drops looping responses. Three signals, any of which drops the sample: a line repeated
    too often, too few distinct n-grams, or a tail that repeats one unit back to back.

    Args:
        max_line_repeats: A non-trivial line (at least ``min_line_chars`` characters) that
            occurs more often than this drops the sample.
        min_line_chars: How long a line must be, in characters, to count for
            ``max_line_repeats`` (short lines such as "So:" repeat in healthy traces).
        ngram: The length, in words, of the n-grams ``min_distinct_ngrams`` counts.
        min_distinct_ngrams: The sample is dropped when the share of distinct word
            ``ngram``-grams falls below this (a healthy trace re-uses phrases like "let me
            verify", but not whole passages).
        max_tail_chars: The sample is dropped when it ends in one unit repeated back to back
            (at least 3 times) covering more than this many characters.
    """

    name = "repetition"

    def __init__(self, max_line_repeats: int = 8, min_line_chars: int = 12, ngram: int = 8,
                 min_distinct_ngrams: float = 0.3, max_tail_chars: int = 200) -> None:
        self.max_line_repeats = max_line_repeats
        self.min_line_chars = min_line_chars
        self.ngram = ngram
        self.min_distinct_ngrams = min_distinct_ngrams
        self.max_tail_chars = max_tail_chars

    def check(self, response: str, prompt: Prompt) -> str | None:
        lines = Counter(
            line.strip() for line in response.splitlines() if len(line.strip()) >= self.min_line_chars
        )
        if lines and lines.most_common(1)[0][1] > self.max_line_repeats:
            return "repetition"
        if distinct_ngram_ratio(response, self.ngram) < self.min_distinct_ngrams:
            return "repetition"
        period, repeats = tail_period_repeats(response)
        if repeats >= 3 and period * repeats > self.max_tail_chars:
            return "repetition"
        return None


#: Scripts whose letters count as "the expected language" for each language code. Greek is
#: always tolerated because mathematics writes with it (pi, theta, Sigma).
LANGUAGE_SCRIPTS = {
    "en": {"LATIN"},
    "fr": {"LATIN"},
    "de": {"LATIN"},
    "es": {"LATIN"},
    "zh": {"CJK", "LATIN"},
    "ja": {"CJK", "HIRAGANA", "KATAKANA", "LATIN"},
    "ru": {"CYRILLIC", "LATIN"},
}
_ALWAYS_OK = {"GREEK"}


def letter_script(char: str) -> str | None:
    """The Unicode script family of a letter (``LATIN``, ``CJK``, ``CYRILLIC``...), or None for
    anything that is not a letter."""
    if not char.isalpha():
        return None
    try:
        name = unicodedata.name(char)
    except ValueError:
        return "UNKNOWN"
    if name.startswith("CJK"):
        return "CJK"
    return name.split(" ", 1)[0]


def script_shares(text: str) -> dict[str, float]:
    counts = Counter(s for s in map(letter_script, text) if s is not None)
    total = sum(counts.values())
    return {script: n / total for script, n in counts.items()} if total else {}


class LanguageFilter(Filter):
    """Drops responses written in the wrong language or mixing languages: letters outside the
    expected language's scripts may make up at most ``max_foreign_share`` of all letters (Greek
    letters always count as expected, since mathematics writes with them).

    Args:
        expected: The language code responses should be written in: ``en``, ``fr``, ``de``,
            ``es``, ``zh``, ``ja`` or ``ru``.
        max_foreign_share: The largest share of a response's letters that may come from scripts
            outside the expected language's.
    """

    name = "language"

    def __init__(self, expected: str = "en", max_foreign_share: float = 0.02) -> None:
        if expected not in LANGUAGE_SCRIPTS:
            raise ValueError(f"unknown language {expected!r}; known: {', '.join(sorted(LANGUAGE_SCRIPTS))}")
        self.expected = expected
        self.max_foreign_share = max_foreign_share

    def check(self, response: str, prompt: Prompt) -> str | None:
        shares = script_shares(response)
        allowed = LANGUAGE_SCRIPTS[self.expected] | _ALWAYS_OK
        foreign = sum(share for script, share in shares.items() if script not in allowed)
        if foreign > self.max_foreign_share:
            return "wrong language" if foreign > 0.5 else "language mixing"
        return None
