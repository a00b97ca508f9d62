"""Uncertainty of benchmark scores: a 95% interval for pass@1 and a paired test of two models.

Benchmarks here have 40-180 problems, so a difference of a few problems is noise. Every score
carries an interval, and every before/after comparison a paired test over the same problems.

Choices (deterministic: the same results give the same numbers on every call and machine):

- **pass@1 interval.** With one sample per problem a problem is solved or not, and pass@1 is a
  binomial proportion: the **Wilson** score interval, exact in closed form and well behaved at 0
  and 1 and on few problems (where the normal approximation and a bootstrap collapse to a point).
  With ``n > 1`` samples, pass@1 is the mean of per-problem rates, and what varies between
  benchmarks is which problems were drawn: a **percentile bootstrap over problems** (resampling
  problems, not samples, keeps each problem's samples together), with a fixed seed. When every
  problem has the same rate (all solved, none solved) the bootstrap has nothing to resample and
  collapses to a point; the Wilson interval over problems (a per-problem rate has at most the
  variance of a coin with the same mean) then bounds it instead.
- **paired comparison.** Both models answered the same problems, so the test looks at per-problem
  differences, which removes the (large) spread of problem difficulty. The difference's interval
  is a **paired bootstrap** over problems (same seed). The p-value is an exact **sign-flip
  test**: when every non-zero per-problem difference has the same size (always with one sample
  per problem, where it is **McNemar's exact test** on the discordant problems) its distribution
  is binomial, computed exactly; otherwise it is a Monte Carlo sign-flip test with a fixed seed.
- **within noise.** A difference is within noise when its interval contains 0 *or* the exact test
  does not reject at 5%: on a handful of problems the bootstrap interval is too narrow (three
  problems all won by one model give [1, 1]), and the exact test guards against calling that real.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

LEVEL = 0.95
Z = 1.959963984540054  # the standard normal's 97.5% quantile
RESAMPLES = 2000  # bootstrap resamples: bounds move by about 0.01 between seeds, well under the width
FLIPS = 10000  # Monte Carlo sign flips when the exact count does not apply
SEED = 20240515  # fixed: an interval in a report must not change when the report is rebuilt


def wilson(successes: float, total: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / total`` (``successes`` may be a
    fraction: a sum of per-problem rates). ``(0.0, 1.0)`` when there is nothing to measure."""
    if total <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, successes / total))
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    # Clamp: at p = 0 or 1 the bound is exactly 0 or 1, which rounding can push past.
    return max(0.0, centre - half), min(1.0, centre + half)


def _rates(results: Sequence[tuple[int, int]]) -> np.ndarray:
    """Per-problem rates from ``(correct, samples)`` pairs; a problem with no samples is an error
    of the caller, not a zero."""
    for correct, samples in results:
        if samples <= 0 or not 0 <= correct <= samples:
            raise ValueError(f"a problem needs 0 <= correct <= samples and samples > 0, got {correct}/{samples}")
    return np.array([c / s for c, s in results], dtype=float)


def _percentile_bootstrap(values: np.ndarray, seed: int = SEED, resamples: int = RESAMPLES) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[picks].mean(axis=1)
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def pass_at_1_interval(results: Sequence[tuple[int, int]], seed: int = SEED) -> tuple[float, float]:
    """95% interval of pass@1 from per-problem ``(correct, samples)``: Wilson when every problem
    has one sample, else a bootstrap over problems (Wilson when that collapses); see the module."""
    rates = _rates(results)
    if all(s == 1 for _, s in results):
        return wilson(float(rates.sum()), len(rates))
    return mean_interval(rates, seed)


def mean_interval(values: Sequence[float] | np.ndarray, seed: int = SEED) -> tuple[float, float]:
    """95% interval of a benchmark score that is the mean of per-problem values in [0, 1] (pass@1
    with several samples, pass@k): a bootstrap over problems, or the Wilson interval over problems
    when every value is the same (the bootstrap would collapse to a point). A score that is one
    0/1 per problem (majority vote) is a proportion: :func:`wilson` is its interval."""
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return 0.0, 1.0
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"a per-problem score lies in [0, 1], got {arr[(arr < 0) | (arr > 1)][0]}")
    if np.all(arr == arr[0]):
        return wilson(float(arr.sum()), len(arr))
    low, high = bootstrap_interval(arr, seed)
    return max(0.0, low), min(1.0, high)


def bootstrap_interval(values: Sequence[float] | np.ndarray, seed: int = SEED) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of ``values`` (any scale: a mean absolute
    error, a mean length), resampling the values themselves with a fixed seed."""
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return float("nan"), float("nan")
    return _percentile_bootstrap(arr, seed)


def correlation_interval(r: float, n: int, z: float = Z) -> tuple[float, float]:
    """95% interval of a (Pearson or Spearman) correlation ``r`` on ``n`` pairs by Fisher's z
    transform, ``tanh(atanh(r) +- z / sqrt(n - 3))``; ``(-1, 1)`` with fewer than 4 pairs, NaN
    for a NaN correlation (a constant side)."""
    if math.isnan(r):
        return float("nan"), float("nan")
    if n < 4:
        return -1.0, 1.0
    centre = math.atanh(max(-0.999999, min(0.999999, r)))
    half = z / math.sqrt(n - 3)
    return math.tanh(centre - half), math.tanh(centre + half)


@dataclass(frozen=True)
class Comparison:
    """``model`` minus ``against`` on the problems both answered."""

    problems: int
    difference: float  # pass@1 of model minus pass@1 of against, on the shared problems
    ci: tuple[float, float]
    p_value: float
    test: str  # "mcnemar-exact", "sign-flip-exact" or "sign-flip-monte-carlo"
    within_noise: bool
    better: int  # problems where model's rate is higher
    worse: int  # problems where it is lower

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = list(self.ci)
        return d


def _binomial_two_sided(k: int, n: int) -> float:
    """Two-sided exact p-value of ``k`` heads in ``n`` fair tosses (doubling the smaller tail)."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def sign_flip_p(diffs: np.ndarray, seed: int) -> float:
    """Monte Carlo sign-flip test of a zero mean difference, add-one so p is never 0."""
    rng = np.random.default_rng(seed)
    observed = abs(diffs.sum())
    signs = rng.choice(np.array([-1.0, 1.0]), size=(FLIPS, len(diffs)))
    flipped = np.abs((signs * diffs).sum(axis=1))
    hits = int((flipped >= observed - 1e-12).sum())
    return (1 + hits) / (1 + FLIPS)


def paired_comparison(model: Sequence[tuple[int, int]], against: Sequence[tuple[int, int]],
                      seed: int = SEED) -> Comparison:
    """Compare two models on the same problems: ``model[i]`` and ``against[i]`` are the
    ``(correct, samples)`` of problem ``i`` for each. See the module for the tests used."""
    if len(model) != len(against):
        raise ValueError(f"paired results need the same problems: {len(model)} against {len(against)}")
    a, b = _rates(model), _rates(against)
    if len(a) == 0:
        return Comparison(0, 0.0, (0.0, 0.0), 1.0, "none", True, 0, 0)
    diffs = a - b
    low, high = _percentile_bootstrap(diffs, seed)
    nonzero = diffs[np.abs(diffs) > 1e-12]
    better, worse = int((nonzero > 0).sum()), int((nonzero < 0).sum())
    single = all(s == 1 for _, s in model) and all(s == 1 for _, s in against)
    if len(nonzero) == 0 or np.allclose(np.abs(nonzero), abs(nonzero[0])):
        # Every non-zero difference the same size: the statistic counts signs, exactly binomial.
        p = _binomial_two_sided(better, better + worse)
        test = "mcnemar-exact" if single else "sign-flip-exact"
    else:
        p = sign_flip_p(nonzero, seed)
        test = "sign-flip-monte-carlo"
    low, high = max(-1.0, low), min(1.0, high)
    within = bool(low <= 0.0 <= high or p >= 1 - LEVEL)
    return Comparison(len(a), float(diffs.mean()), (low, high), p, test, within, better, worse)


def ratio_interval(numerators: Sequence[float], denominators: Sequence[float],
                   seed: int = SEED) -> tuple[float, float]:
    """95% interval of ``sum(numerators) / sum(denominators)`` where problem ``i`` contributes
    ``numerators[i]`` of its ``denominators[i]`` units (a problem scored over several seeds: the
    share of its wrong answers that a sample fixed). A percentile bootstrap over problems, which
    keeps a problem's units together; Wilson over units when the bootstrap collapses or every
    problem counts one unit. ``(0.0, 1.0)`` when there is nothing to measure."""
    num, den = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    if len(num) != len(den):
        raise ValueError(f"a ratio needs one numerator per denominator: {len(num)} against {len(den)}")
    if np.any(num < 0) or np.any(num > den):
        raise ValueError("each problem needs 0 <= numerator <= denominator")
    keep = den > 0
    num, den = num[keep], den[keep]
    total = float(den.sum())
    if total == 0:
        return 0.0, 1.0
    if np.all(den == 1):
        return wilson(float(num.sum()), int(total))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(num), size=(RESAMPLES, len(num)))
    ratios = num[picks].sum(axis=1) / np.maximum(den[picks].sum(axis=1), 1e-12)
    tail = (1 - LEVEL) / 2
    low, high = (float(v) for v in np.quantile(ratios, [tail, 1 - tail]))
    if high - low < 1e-12:
        return wilson(float(num.sum()), int(round(total)))
    return max(0.0, low), min(1.0, high)


# -- how many problems a comparison needs --------------------------------------------------------

def paired_sample_size(difference: float, discordance: float, alpha: float = 1 - LEVEL, power: float = 0.8) -> int:
    """Problems a paired comparison of two models (one answer per problem each, McNemar's test at
    two-sided ``alpha``) needs to detect a true pass@1 ``difference`` with probability ``power``,
    when a fraction ``discordance`` of problems is answered rightly by one model and wrongly by
    the other (Connor's normal approximation: n = (z_a sqrt(d) + z_b sqrt(d - delta^2))^2 /
    delta^2). The discordance, not the accuracy, sets the size: two models that differ on few
    problems are compared on few effective problems."""
    delta, d = abs(difference), discordance
    if not 0 < delta <= d <= 1:
        raise ValueError(f"need 0 < |difference| <= discordance <= 1, got difference {difference}, "
                         f"discordance {discordance}")
    z_alpha, z_power = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(power)
    n = (z_alpha * math.sqrt(d) + z_power * math.sqrt(d - delta * delta)) ** 2 / (delta * delta)
    return math.ceil(n)


def detectable_difference(problems: int, discordance: float, alpha: float = 1 - LEVEL, power: float = 0.8) -> float:
    """The smallest true pass@1 difference that ``problems`` problems detect with probability
    ``power`` (the inverse of :func:`paired_sample_size`, by bisection); infinity when none can
    be (a difference cannot exceed the share of problems that differ, and even that one needs
    ``z^2 / discordance`` problems)."""
    if problems < 1 or not 0 < discordance <= 1:
        raise ValueError(f"need problems >= 1 and 0 < discordance <= 1, got {problems}, {discordance}")
    if paired_sample_size(discordance, discordance, alpha, power) > problems:
        return math.inf
    low, high = 0.0, discordance
    for _ in range(60):
        mid = (low + high) / 2
        if mid > 0 and paired_sample_size(mid, discordance, alpha, power) <= problems:
            high = mid
        else:
            low = mid
    return high


def discordance(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> float:
    """The fraction of problems on which two models' per-problem rates differ (with one sample
    per problem: one right and the other wrong), the figure :func:`paired_sample_size` needs."""
    if len(a) != len(b):
        raise ValueError(f"paired results need the same problems: {len(a)} against {len(b)}")
    if not a:
        raise ValueError("a discordance needs at least one problem")
    return float(np.mean(np.abs(_rates(a) - _rates(b)) > 1e-12))


def seed_spread(values: Sequence[float]) -> dict[str, float]:
    """The spread of one score over a sweep's seeds: mean, sample standard deviation, min, max.
    Seeds measure training and sampling noise, which the per-problem interval does not."""
    if not values:
        raise ValueError("a seed spread needs at least one value")
    arr = np.array(values, dtype=float)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {"seeds": len(arr), "mean": float(arr.mean()), "std": std, "min": float(arr.min()), "max": float(arr.max())}


# -- comparing the models of a run -----------------------------------------------------------

def per_problem_results(path: Path) -> dict[str, tuple[int, int]]:
    """``prompt_id -> (correct, samples)`` from an evaluation's per-problem results
    (``<run>/eval/<model>/<evaluator>.jsonl``); a later row for the same problem wins."""
    from redstar.errors import InputError
    from redstar.tables import iter_jsonl

    out: dict[str, tuple[int, int]] = {}
    for line, row in iter_jsonl(path):
        for key in ("prompt_id", "correct_count", "samples"):
            if key not in row:
                raise InputError(path, "missing (a per-problem evaluation row has prompt_id, correct_count, samples)",
                                 line=line, field=key)
        samples, correct = row["samples"], row["correct_count"]
        if not isinstance(samples, list) or not samples:
            raise InputError(path, "expected a non-empty list of samples", line=line, field="samples")
        if not isinstance(correct, int) or not 0 <= correct <= len(samples):
            raise InputError(path, f"{correct!r} is not a count of correct samples out of {len(samples)}",
                             line=line, field="correct_count")
        out[str(row["prompt_id"])] = (correct, len(samples))
    return out


def compare_models(run_dir: str | Path, scores: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each model after the first (in ``scores`` order: base -> sft -> dpo ...) against the one
    before it, per evaluator both were scored on, paired over the problems both answered:
    ``{model: {evaluator: Comparison.to_dict() + {"against": previous}}}``. The teacher, when
    evaluated, is a reference and not a step of the chain. A pair whose per-problem files are
    gone (a summary moved without its run) is left out."""
    root = Path(run_dir)
    chain = [tag for tag in scores if tag != "teacher"]
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for previous, tag in zip(chain, chain[1:]):
        for evaluator in sorted(set(scores[tag]) & set(scores[previous])):
            paths = [root / "eval" / t / f"{evaluator}.jsonl" for t in (tag, previous)]
            if not all(p.is_file() for p in paths):
                continue
            mine, theirs = (per_problem_results(p) for p in paths)
            shared = sorted(set(mine) & set(theirs))
            if not shared:
                continue
            result = paired_comparison([mine[k] for k in shared], [theirs[k] for k in shared])
            out.setdefault(tag, {})[evaluator] = {"against": previous, **result.to_dict()}
    return out
