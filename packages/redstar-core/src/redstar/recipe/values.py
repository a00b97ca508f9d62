"""What types cannot say about a recipe: numbers that are not finite, integers past any sensible
size, ranges, names, and relations between keys. Each check calls ``fail(key, message)``, which
raises a :class:`~redstar.errors.RecipeError` naming the file and line.

:func:`check_data` runs on the parsed YAML before the sections are validated, so that a NaN or a
10^30 anywhere (plugin options included, which are free-form until their plugin is known) is
named at its own key; :func:`check_values` runs on the validated :class:`Recipe`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from redstar.recipe.sections import MixCount, Recipe

Fail = Callable[[str, str], None]

#: Difficulty levels run from 1 (trivial) to 10 (hardest): the scorers' contract.
LEVELS = (1, 10)
#: The largest integer anywhere in a recipe: what every library down the line (numpy, torch,
#: Parquet, JSON readers in other languages) holds in 64 bits.
MAX_INT = 2**63 - 1
#: A seed seeds numpy too, which takes 32 bits.
MAX_SEED = 2**32 - 1
#: Responses per prompt at most (``sampling.n``, ``n_by_level``, ``evaluation.n``): each
#: prompt's drawn samples are tracked as a bit mask of this many bits.
MAX_SAMPLES_PER_PROMPT = 100_000
#: A positive share of ``selection.mix`` is a weight in this range: beyond it the quotas' arithmetic
#: overflows (a share of 1e308, or of 5e-324 beside others) and no mix needs it.
SHARES = (1e-6, 1e6)
#: A run name is a folder name under ``runs/``: letters, digits, ``.``, ``_``, ``-`` and ``+``,
#: starting with a letter or digit (so never ``..``, never a path, never hidden).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def check_name(name: Any) -> str | None:
    """Why ``name`` cannot be a run name (a folder under ``runs/``), or None when it can."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        return (f"must be a plain name (letters, digits, '.', '_', '-', '+'; starting with a letter or a digit; "
                f"at most 128 characters), not a path, got {name!r}")
    return None


def check_data(data: Any, fail: Fail) -> None:
    """Every number in ``data`` (the parsed YAML, keys included) is finite and fits in 64 bits,
    and every string is text that can be written (no lone surrogate, which a YAML escape such as
    ``"\\ud800"`` can make: it would pass every other check and fail as ``recipe.yaml`` and the
    fingerprints are written)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:  # depth first in the order of the file, so the first problem named is the topmost
        key, value = stack.pop()
        if isinstance(value, dict):
            children = []
            for k, v in value.items():
                child = f"{key}.{k}" if key else str(k)
                _check_number(child, k, fail, what="key")
                _check_text(child, k, fail)
                children.append((child, v))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{key}[{i}]", v) for i, v in enumerate(value)]))
        else:
            _check_number(key or "<top>", value, fail)
            _check_text(key or "<top>", value, fail)


def _check_text(key: str, value: Any, fail: Fail) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            fail(key, f"is not valid text: it holds a lone surrogate ({value[exc.start]!a}), which is no character; "
                 "write the character itself")


def _check_number(key: str, value: Any, fail: Fail, what: str = "value") -> None:
    if isinstance(value, float) and not math.isfinite(value):
        fail(key, f"must be a finite number, got {value!r}" if what == "value" else
             f"a key must be a finite number, got {value!r}")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        digits = len(str(abs(value)))
        shown = f"an integer of {digits} digits" if digits > 40 else str(value)
        fail(key, f"is too large: {shown} (at most {MAX_INT} in size)")


def _at_least(fail: Fail, key: str, value: int | float | None, least: int | float, most: int | float | None = None,
              what: str = "") -> None:
    if value is None:
        return
    if value < least or (most is not None and value > most):
        bounds = f"at least {least}" if most is None else f"from {least} to {most}"
        fail(key, f"must be {bounds}{what}, got {value!r}")


def _level(fail: Fail, key: str, value: Any) -> None:
    low, high = LEVELS
    if value is not None and not low <= value <= high:
        fail(key, f"is not a difficulty level: levels run from {low} to {high}, got {value!r}")


def _n_by_level(fail: Fail, key: str, mapping: dict[Any, int] | None) -> None:
    for level, n in (mapping or {}).items():
        low, high = LEVELS
        if not low <= level <= high:
            fail(f"{key}.{level}", f"{level!r} is not a difficulty level (levels run from {low} to {high})")
        _at_least(fail, f"{key}.{level}", n, 1, MAX_SAMPLES_PER_PROMPT)


def check_values(recipe: Recipe, fail: Fail) -> None:
    """Ranges and relations between keys of a validated recipe."""
    problem = check_name(recipe.name)
    if problem:
        fail("name", problem)
    _at_least(fail, "seed", recipe.seed, 0, MAX_SEED)
    selection = recipe.selection
    _level(fail, "selection.min_level", selection.min_level)
    _level(fail, "selection.max_level", selection.max_level)
    if selection.min_level > selection.max_level:
        fail("selection.min_level", "is greater than selection.max_level")
    for domain, rule in selection.domains.items():
        prefix = f"selection.domains.{domain}"
        _level(fail, f"{prefix}.min_level", rule.min_level)
        _level(fail, f"{prefix}.max_level", rule.max_level)
        low, high = selection.band(domain)
        if low > high:
            fail(f"{prefix}.min_level", f"the band {low}-{high} is empty")
        _at_least(fail, f"{prefix}.max_prompts", rule.max_prompts, 1)
        _at_least(fail, f"{prefix}.n", rule.n, 1, MAX_SAMPLES_PER_PROMPT)
        _n_by_level(fail, f"{prefix}.n_by_level", rule.n_by_level)
    sampling, evaluation = recipe.sampling, recipe.evaluation
    _at_least(fail, "sampling.n", sampling.n, 1, MAX_SAMPLES_PER_PROMPT)
    _n_by_level(fail, "sampling.n_by_level", sampling.n_by_level)
    _at_least(fail, "evaluation.n", evaluation.n, 1, MAX_SAMPLES_PER_PROMPT)
    for key, value in (("sampling.chunk_size", sampling.chunk_size), ("sampling.max_new_tokens", sampling.max_new_tokens),
                       ("evaluation.max_new_tokens", evaluation.max_new_tokens),
                       ("decontamination.ngram", recipe.decontamination.ngram)):
        _at_least(fail, key, value, 1)
    for name, section in (("sampling", sampling), ("evaluation", evaluation)):
        if section.temperature < 0:
            fail(f"{name}.temperature", f"must be 0 (greedy) or more, got {section.temperature!r}")
        if not 0 < section.top_p <= 1:
            fail(f"{name}.top_p", f"must be in (0, 1], got {section.top_p!r}")
    sampled = evaluation.sampled
    if sampled is not None:
        _at_least(fail, "evaluation.sampled.n", sampled.n, 1, MAX_SAMPLES_PER_PROMPT)
        if sampled.temperature <= 0:
            fail("evaluation.sampled.temperature", f"must be more than 0 (it samples), got {sampled.temperature!r}")
        if not 0 < sampled.top_p <= 1:
            fail("evaluation.sampled.top_p", f"must be in (0, 1], got {sampled.top_p!r}")
    if selection.total is not None and selection.total < 1:
        fail("selection.total", f"must be at least 1 (or null for no total), got {selection.total!r}")
    _check_mix(recipe, fail)
    for source, cap in selection.per_source.items():
        _at_least(fail, f"selection.per_source.{source}", cap, 0)
    _at_least(fail, "preference.pairs_per_prompt", recipe.preference.pairs_per_prompt, 0)
    execution = recipe.execution
    limits: tuple[tuple[str, int | float, int], ...] = (
        ("replicas", execution.replicas, 1), ("verify_batch", execution.verify_batch, 1),
        ("max_retries", execution.max_retries, 0), ("num_gpus", execution.num_gpus, 0))
    for key, amount, least in limits:
        _at_least(fail, f"execution.{key}", amount, least)
    if execution.num_cpus <= 0:
        fail("execution.num_cpus", f"must be more than 0, got {execution.num_cpus!r}")


def _check_mix(recipe: Recipe, fail: Fail) -> None:
    selection = recipe.selection
    counted = 0
    for domain, share in selection.mix.items():
        if isinstance(share, MixCount):
            _at_least(fail, f"selection.mix.{domain}.prompts", share.prompts, 1)
            counted += share.prompts
        elif share < 0:
            fail(f"selection.mix.{domain}", f"a share cannot be negative, got {share!r}")
        elif share and not SHARES[0] <= share <= SHARES[1]:
            fail(f"selection.mix.{domain}", f"a share is a weight from {SHARES[0]:g} to {SHARES[1]:g} (or 0 for none), "
                 f"got {share:g}")
    if selection.mix and not counted and not any(s > 0 for s in selection.shares().values()):
        fail("selection.mix", "needs at least one positive share or a count; with every share 0 nothing is selected")
    if selection.total is not None and counted > selection.total:
        first = next(d for d, s in selection.mix.items() if isinstance(s, MixCount))
        fail(f"selection.mix.{first}", f"the mix's counts add up to {counted} prompts, more than "
             f"selection.total ({selection.total})")
