"""Removing training prompts that overlap benchmark questions.

A prompt is contaminated when its text equals a benchmark question up to case and whitespace
(never up to structure: ``(a and b) or c`` is not ``a and (b or c)``), or when it shares a word
``n``-gram with one (13 by default, as in GPT-3's decontamination; an n-gram that long is a
copy whatever its punctuation). Every installed evaluator's questions are checked unless the
recipe narrows the list.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from redstar.records import Prompt

_TOKEN = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> list[str]:
    """Words, for n-gram overlap."""
    return _TOKEN.findall(text.lower())


def exact_key(text: str) -> str:
    """What "the same question" means: equal after Unicode compatibility folding, case folding
    and collapsing whitespace. Brackets, operators and punctuation are kept: they carry meaning."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


class BenchmarkIndex:
    """N-gram index of benchmark questions, by benchmark name."""

    def __init__(self, n: int = 13) -> None:
        self.n = n
        self._grams: dict[tuple[str, ...], str] = {}
        self._exact: dict[str, str] = {}

    def add(self, benchmark: str, questions: Iterable[str], exact_only: bool = False) -> None:
        """Index a benchmark's questions. ``exact_only`` suits generated sets that are disjoint
        from the sources by construction but share their templates' wording: n-grams of shared
        template text would flag every prompt."""
        for q in questions:
            key = exact_key(q)
            if not key:
                continue
            self._exact.setdefault(key, benchmark)
            words = normalise(q)
            if exact_only:
                continue
            for g in ngrams(words, self.n):
                self._grams.setdefault(g, benchmark)

    def match(self, question: str) -> str | None:
        """The benchmark ``question`` overlaps, or None."""
        exact = self._exact.get(exact_key(question))
        if exact:
            return exact
        words = normalise(question)
        # A question shorter than n words can only match exactly (above): short texts share
        # n-grams by chance far too easily.
        if len(words) < self.n:
            return None
        for g in ngrams(words, self.n):
            hit = self._grams.get(g)
            if hit:
                return hit
        return None


def decontaminate(prompts: Sequence[Prompt], index: BenchmarkIndex) -> tuple[list[Prompt], dict[str, int]]:
    kept: list[Prompt] = []
    dropped: dict[str, int] = {}
    for p in prompts:
        hit = index.match(p.question)
        if hit is None:
            kept.append(p)
        else:
            reason = f"overlaps {hit}"
            dropped[reason] = dropped.get(reason, 0) + 1
    return kept, dropped
