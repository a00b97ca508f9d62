"""The run report's tables: the terminal tables (funnel, funnel by domain, scores, paired
comparisons) and :func:`print_summary`, with the cell formatting that ``report.md`` shares (a pass@1
with its 95% interval, the comparison rows, the order of groups)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from redstar.stats import compare_models


def group_order(group: str) -> tuple:
    """Sort key that puts "level 2" before "level 10" (numbers compare as numbers)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", group))


SCORE_LEGEND = ("pass@1 [95% interval]; maj = majority vote [95% interval]; "
                "trunc = responses cut at the token limit")


def fmt_pass(value: float, ci: Any) -> str:
    """``0.590 [0.51, 0.66]``: a pass@1 with its 95% interval; the bare number for a score saved
    before intervals existed."""
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return f"{value:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]"
    return f"{value:.3f}"


def score_cell(score: dict[str, Any]) -> str:
    """One evaluator's score as the reports show it: pass@1 and majority vote, each with its 95%
    interval, and how many responses were cut at the token limit."""
    return (f"{fmt_pass(score['pass_at_1'], score.get('pass_at_1_ci'))} "
            f"(maj {fmt_pass(score['majority'], score.get('majority_ci'))}; trunc {score['truncated']})")


def comparisons(run_dir: str | Path, summary: dict[str, Any]) -> dict[str, Any]:
    """The summary's paired comparisons, or, for a summary written without them, computed from the
    run's per-problem results (``eval/<model>/<evaluator>.jsonl``)."""
    if "comparisons" in summary:
        return summary["comparisons"] or {}
    return compare_models(run_dir, summary.get("scores", {}))


def _verdict(c: dict[str, Any]) -> str:
    if c.get("did_not_train"):  # the RL stage never moved: the difference says nothing about the method
        return f"did not train ({c['did_not_train']})"
    if c["within_noise"]:
        return "within noise"
    return "better" if c["difference"] > 0 else "worse"


TESTS = {"mcnemar-exact": "McNemar exact", "sign-flip-exact": "sign-flip exact",
         "sign-flip-monte-carlo": "sign-flip Monte Carlo"}


def _comparison_cells(evaluator: str, tag: str, c: dict[str, Any]) -> list[str]:
    low, high = c["ci"]
    return [evaluator, f"{c['against']} -> {tag}", f"{c['difference']:+.3f} [{low:+.2f}, {high:+.2f}]",
            f"{c['p_value']:.3g} ({TESTS.get(c['test'], c['test'])})",
            f"{c['better']} / {c['worse']} of {c['problems']}", _verdict(c)]


COMPARISON_COLUMNS = ["evaluator", "change", "difference [95% CI]", "p (test)", "problems better / worse", "verdict"]


def comparison_table(found: dict[str, Any]) -> Table:
    table = Table(title="Each model against the one before it (paired over the same problems)")
    for column in COMPARISON_COLUMNS:
        table.add_column(column, justify="left" if column in ("evaluator", "change", "verdict") else "right")
    for tag, per in found.items():
        for evaluator, c in sorted(per.items()):
            table.add_row(*_comparison_cells(evaluator, tag, c))
    return table


def _comparison_rows(found: dict[str, Any]) -> list[str]:
    if not found:
        return []
    rows = ["", "### Each model against the one before it", "",
            "pass@1 difference on the problems both answered, its 95% interval (paired bootstrap) and "
            "p-value; *within noise* when the interval contains 0 or p >= 0.05.", "",
            "| " + " | ".join(COMPARISON_COLUMNS) + " |", "|---|" + "---|" * (len(COMPARISON_COLUMNS) - 1)]
    for tag, per in found.items():
        for evaluator, c in sorted(per.items()):
            cells = _comparison_cells(evaluator, tag, c)
            if c["within_noise"] and not c.get("did_not_train"):
                cells[-1] = "*within noise*"
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def model_label(summary: dict[str, Any], tag: str) -> str:
    """A model's column title: its tag, with the registered name of the trainer that made it where
    the tag does not say it (``sft (my-sft)``; ``dpo`` and ``dpo-1`` say it)."""
    trainer = (summary.get("provenance") or {}).get("trainers", {}).get(tag)
    if not trainer or tag == trainer or tag.startswith(f"{trainer}-"):
        return tag
    return f"{tag} ({trainer})"


def what_ran(summary: dict[str, Any]) -> str | None:
    """One line naming the components a run used: the scorer, the samplers, the trainers."""
    provenance = summary.get("provenance") or {}
    parts = []
    if provenance.get("scorer"):
        parts.append(f"scorer {provenance['scorer']}")
    backends = provenance.get("backends") or {}
    parts += [f"{use} sampler {name}" for use, name in backends.items()]
    if provenance.get("trainers"):
        parts.append("trainers " + ", ".join(f"{tag}: {name}" for tag, name in provenance["trainers"].items()))
    return "; ".join(parts) or None


def score_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"Scores ({SCORE_LEGEND})")
    table.add_column("evaluator")
    tags = list(summary.get("scores", {}))
    for tag in tags:
        table.add_column(model_label(summary, tag), justify="right")
    evaluators = sorted({e for per in summary.get("scores", {}).values() for e in per})
    for name in evaluators:
        cells = []
        for tag in tags:
            s = summary["scores"][tag].get(name)
            cells.append("-" if s is None else score_cell(s))
        table.add_row(name, *cells)
    return table


def funnel_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Funnel")
    table.add_column("step")
    table.add_column("count", justify="right")
    for label, count in summary.get("funnel", []) + summary.get("sample_funnel", []):
        table.add_row(label, str(count))
    for where, drops in summary.get("drops", {}).items():
        for reason, count in sorted(drops.items(), key=lambda kv: -kv[1]):
            table.add_row(f"  dropped in {where}: {reason}", str(count))
    return table


def domain_funnel_table(summary: dict[str, Any]) -> Table | None:
    """The funnel with a column per domain (None for a single-domain run: the funnel says it)."""
    by_domain = summary.get("funnel_by_domain", {})
    if len(by_domain) < 2:
        return None
    domains = sorted(by_domain)
    table = Table(title="Funnel by domain")
    table.add_column("step")
    for domain in domains:
        table.add_column(domain, justify="right")
    for i, (label, _) in enumerate(by_domain[domains[0]]):
        table.add_row(label, *(str(by_domain[d][i][1]) for d in domains))
    return table


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    ran = what_ran(summary)
    if ran:
        console.print(f"[dim]ran with: {ran}[/dim]")
    console.print(funnel_table(summary))
    per_domain = domain_funnel_table(summary)
    if per_domain is not None:
        console.print(per_domain)
    for warning in summary.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if summary.get("scores"):
        console.print(score_table(summary))
        found = comparisons(summary["run_dir"], summary)
        if found:
            console.print(comparison_table(found))
    console.print(f"run directory: {summary['run_dir']}")
