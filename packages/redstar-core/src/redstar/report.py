"""The run report: a terminal table, ``report.md`` and a self-contained ``report.html`` with plots
(difficulty histogram, the funnel from prompts to SFT rows, pass rate against response length,
training curves, and every score before and after training). Every pass@1 is shown with its 95%
interval, and each model against the one before it with a paired test that marks a difference
within noise (:mod:`redstar.stats`)."""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from pathlib import Path
from typing import Any

from redstar.report_evaluation import room_rows, validation_rows
from redstar.report_health import health_rows
from redstar.report_plots import CHAR_INCHES, LABEL_WRAP, PLOTS, make_plots
from redstar.report_plots import _bands as _bands  # the tests read these three
from redstar.report_plots import _difficulty_figure as _difficulty_figure
from redstar.report_plots import _groups_figure as _groups_figure
from redstar.report_tables import (
    COMPARISON_COLUMNS,
    SCORE_LEGEND,
    TESTS,
    _comparison_rows,
    comparison_table,
    comparisons,
    domain_funnel_table,
    fmt_pass,
    funnel_table,
    group_order,
    model_label,
    print_summary,
    score_cell,
    score_table,
)

__all__ = ["CHAR_INCHES", "COMPARISON_COLUMNS", "LABEL_WRAP", "PLOTS", "TESTS", "comparison_table", "comparisons",
           "domain_funnel_table", "fmt_pass", "funnel_table", "group_order", "make_plots", "model_label", "print_summary",
           "provenance_rows", "score_table", "write_report"]


def _group_rows(summary: dict[str, Any]) -> list[str]:
    """Markdown rows of per-group pass@1 (e.g. by level) for each evaluator and model."""
    rows = []
    by_eval: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for tag, per in summary.get("scores", {}).items():
        for name, score in per.items():
            by_eval[name][tag] = score
    for name, per_tag in sorted(by_eval.items()):
        groups = sorted({g for s in per_tag.values() for g in s.get("by_group", {})}, key=group_order)
        if not groups:
            continue
        tags = list(per_tag)
        rows.append(f"\n**{name}** by group (pass@1 [95% interval])\n")
        rows.append("| group | " + " | ".join(tags) + " |")
        rows.append("|---|" + "---|" * len(tags))
        for g in groups:
            cells = []
            for t in tags:
                group = per_tag[t].get("by_group", {}).get(g, {})
                cells.append(fmt_pass(group.get("pass@1", 0.0), group.get("pass@1_ci")))
            rows.append(f"| {g} | " + " | ".join(cells) + " |")
    return rows


def _domain_funnel_rows(summary: dict[str, Any]) -> list[str]:
    by_domain = summary.get("funnel_by_domain", {})
    if len(by_domain) < 2:
        return []
    domains = sorted(by_domain)
    rows = ["", "### By domain", "", "| step | " + " | ".join(domains) + " |", "|---|" + "---|" * len(domains)]
    for i, (label, _) in enumerate(by_domain[domains[0]]):
        rows.append(f"| {label} | " + " | ".join(str(by_domain[d][i][1]) for d in domains) + " |")
    drops = summary.get("drops_by_domain", {})
    reasons = sorted({(where, r) for d in domains for where, c in drops.get(d, {}).items() for r in c})
    for where, reason in reasons:
        cells = [str(drops.get(d, {}).get(where, {}).get(reason, 0)) for d in domains]
        rows.append(f"| dropped in {where}: {reason} | " + " | ".join(cells) + " |")
    return rows


def _cell(value: Any) -> str:
    return str(value).replace("\n", " ")


def _model_cell(model: dict[str, Any]) -> str:
    spec, resolved = model.get("spec"), model.get("resolved")
    if resolved is None:
        return f"`{spec}` (not found)"
    return f"`{spec}`" if resolved == spec else f"`{spec}` ({resolved})"


def provenance_rows(provenance: dict[str, Any]) -> list[str]:
    """The "What ran" section from ``summary["provenance"]`` (:func:`redstar.provenance.describe_run`):
    what a reader needs to know which run produced these numbers."""
    rows: list[tuple[str, str]] = []
    recipe = provenance.get("recipe", {})
    if recipe:
        rows.append(("recipe", f"{recipe.get('name', '?')} (sha256 `{str(recipe.get('sha256', '?'))[:16]}`)"))
    for role in ("teacher", "student"):
        if provenance.get(role):
            rows.append((role, _model_cell(provenance[role])))
    backends = provenance.get("backends", {})
    if backends:
        rows.append(("backends", ", ".join(f"{k}: {v}" for k, v in backends.items())))
    if provenance.get("scorer"):
        rows.append(("scorer", str(provenance["scorer"])))
    if provenance.get("trainers"):
        rows.append(("trainers", ", ".join(f"{tag}: {name}" for tag, name in provenance["trainers"].items())))
    if provenance.get("redstar"):
        rows.append(("RedStar", str(provenance["redstar"])))
    plugins = [p for p in provenance.get("plugins", []) if not p.get("builtin")]  # core's are RedStar's version
    if plugins:
        rows.append(("plugins", ", ".join(f"{p.get('name')} {p.get('version') or '(no version)'}" for p in plugins)))
    m = provenance.get("machine", {})
    if m:
        gpu = m.get("gpu") if m.get("cuda") else "no CUDA"
        torch = f"torch {m['torch']}" if m.get("torch") else "no torch"
        rows.append(("machine", f"{m.get('hostname') or '?'}: {m.get('os') or '?'}, Python {m.get('python') or '?'}, "
                                f"{m.get('cpus') or '?'} CPUs, {torch}, {gpu or 'GPU unknown'}"))
    if provenance.get("time"):
        rows.append(("time", str(provenance["time"])))
    if not rows:
        return []
    return ["## What ran", ""] + [f"- **{k}**: {_cell(v)}" for k, v in rows] + [""]


def write_report(run_dir: str | Path, summary: dict[str, Any]) -> tuple[Path, Path]:
    run_dir = Path(run_dir)
    plots = make_plots(run_dir, summary)
    lines = [f"# RedStar run: {summary['recipe']}", ""]
    lines += provenance_rows(summary.get("provenance") or {})
    if summary.get("warnings"):
        lines += ["## Warnings", ""] + [f"- {w}" for w in summary["warnings"]] + [""]
    lines += ["## Funnel", "", "| step | count |", "|---|---|"]
    lines += [f"| {label} | {count} |" for label, count in summary.get("funnel", []) + summary.get("sample_funnel", [])]
    for where, drops in summary.get("drops", {}).items():
        for reason, count in sorted(drops.items(), key=lambda kv: -kv[1]):
            lines.append(f"| dropped in {where}: {reason} | {count} |")
    lines += _domain_funnel_rows(summary)
    if summary.get("scores"):
        tags = list(summary["scores"])
        lines += ["", "## Scores", "", SCORE_LEGEND, "",
                  "| evaluator | " + " | ".join(model_label(summary, t) for t in tags) + " |",
                  "|---|" + "---|" * len(tags)]
        for name in sorted({e for per in summary["scores"].values() for e in per}):
            cells = []
            for tag in tags:
                s = summary["scores"][tag].get(name)
                cells.append("-" if s is None else score_cell(s))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += _comparison_rows(comparisons(run_dir, summary))
        lines += room_rows(summary)
        lines += _group_rows(summary)
    lines += validation_rows(summary)
    lines += health_rows(summary)
    if summary.get("seconds"):
        lines += ["", "## Time per stage (seconds)", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in summary["seconds"].items()]
    lines += ["", "## Plots", ""] + [f"![{name}](plots/{path.name})" for name, path in plots.items()]
    md = run_dir / "report.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")

    body = []
    from markdown_it import MarkdownIt  # rich depends on markdown-it-py

    rendered = MarkdownIt("commonmark").enable("table").render("\n".join(
        line for line in lines if not line.startswith("![")))
    body.append(rendered)
    for name, path in plots.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        body.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}"></figure>')
    page = ("<!doctype html><meta charset='utf-8'><title>RedStar report</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
            "td:first-child,th:first-child{text-align:left}img{max-width:100%}</style>" + "\n".join(body))
    page_path = run_dir / "report.html"
    page_path.write_text(page, encoding="utf-8")
    return md, page_path
