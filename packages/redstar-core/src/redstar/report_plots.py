"""The run report's plots (``plots/*.png``): difficulty histogram with each domain's band, the
funnel from prompts to SFT rows (and by domain), pass rate against response length, training loss,
and every score before and after training (overall and by group), each pass@1 with its 95%
interval."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from redstar.pipeline.run_tables import judged_rows
from redstar.report_tables import group_order
from redstar.tables import iter_jsonl

PLOTS = ("difficulty", "funnel", "funnel_by_domain", "pass_vs_length", "training", "scores", "scores_by_group")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _interval_bars(ax: Any, xs: list[float], cis: list[Any]) -> None:
    """A vertical segment over each bar from its interval's low to high end (none where a score has
    no interval). Plain segments (a line collection), not matplotlib's errorbar, whose caps are
    lines that could read as joining bars."""
    shown = [(x, ci[0], ci[1]) for x, ci in zip(xs, cis) if isinstance(ci, (list, tuple)) and len(ci) == 2]
    if shown:
        ax.vlines([x for x, _, _ in shown], [lo for _, lo, _ in shown], [hi for _, _, hi in shown],
                  colors="#222222", linewidth=1.2, zorder=3)


def make_plots(run_dir: Path, summary: dict[str, Any]) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = run_dir / "plots"
    out.mkdir(exist_ok=True)
    made: dict[str, Path] = {}

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made[name] = path

    scored = _level_counts(run_dir / "scored.jsonl")
    if scored:
        save(_difficulty_figure(plt, scored, _level_counts(run_dir / "selected.jsonl"), _bands(run_dir)), "difficulty")

    panels = [("prompts", summary.get("funnel", [])), ("samples", summary.get("sample_funnel", []))]
    if any(steps for _, steps in panels):
        fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
        for ax, (unit, steps) in zip(axes, panels):
            labels = [s[0] for s in steps][::-1]
            counts = [s[1] for s in steps][::-1]
            bars = ax.barh(labels, counts, color="#2c3e50")
            ax.bar_label(bars, padding=3)
            ax.set_xlim(0, max(counts or [1]) * 1.25)
            ax.set_title(f"Funnel: {unit}")
        save(fig, "funnel")

    by_domain = summary.get("funnel_by_domain", {})
    if len(by_domain) > 1:
        domains = sorted(by_domain)
        labels = [label for label, _ in by_domain[domains[0]]]
        fig, ax = plt.subplots(figsize=(9, 0.5 + 0.45 * len(labels) * len(domains) / 2))
        height = 0.8 / len(domains)
        for k, domain in enumerate(domains):
            ys = [i + k * height for i in range(len(labels))]
            bars = ax.barh(ys, [count for _, count in by_domain[domain]], height=height, label=domain)
            ax.bar_label(bars, padding=3, fontsize=8)
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(labels))], labels)
        ax.invert_yaxis()
        ax.legend(loc="lower right")
        ax.set_title("Funnel by domain")
        save(fig, "funnel_by_domain")

    # Length buckets on a log scale, filled as the tables stream past: the plot of a run of
    # millions of samples needs a few counters, not the samples.
    edges = np.geomspace(10, 10 ** 6, 26)
    hits, totals, length_sums = np.zeros(27), np.zeros(27), np.zeros(27)
    for sample, verdict in judged_rows(run_dir, columns=("prompt_id", "index", "response")):
        length = len(sample["response"])
        bucket = int(np.searchsorted(edges, length))
        totals[bucket] += 1
        hits[bucket] += bool(verdict and verdict["correct"])
        length_sums[bucket] += length
    shown = totals >= 5
    if shown.sum() >= 2:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(length_sums[shown] / totals[shown], hits[shown] / totals[shown], marker="o", color="#27ae60")
        ax.set_xscale("log")
        ax.set_xlabel("response length (characters, bucket mean; buckets of 5 or more samples)")
        ax.set_ylabel("pass rate")
        ax.set_ylim(0, 1)
        ax.set_title("Teacher pass rate vs response length")
        save(fig, "pass_vs_length")

    curves = {p.stem: _read_jsonl(p) for p in sorted((run_dir / "metrics").glob("*.jsonl"))}
    curves = {k: [r for r in v if "loss" in r] for k, v in curves.items()}
    if any(curves.values()):
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for tag, rows in curves.items():
            if rows:
                ax.plot([r.get("step", i) for i, r in enumerate(rows)], [r["loss"] for r in rows], label=tag)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        ax.set_title("Training loss")
        save(fig, "training")

    scores = summary.get("scores", {})
    if scores:
        tags = list(scores)
        evaluators = sorted({e for per in scores.values() for e in per})
        fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(evaluators) + 2), 3.4))
        width = 0.8 / max(1, len(tags))
        for j, tag in enumerate(tags):
            ys = [scores[tag].get(e, {}).get("pass_at_1", 0.0) for e in evaluators]
            xs = [i + j * width for i in range(len(evaluators))]
            ax.bar(xs, ys, width, label=tag)
            _interval_bars(ax, xs, [scores[tag].get(e, {}).get("pass_at_1_ci") for e in evaluators])
        ax.set_xticks([i + width * (len(tags) - 1) / 2 for i in range(len(evaluators))])
        ax.set_xticklabels(evaluators, rotation=15)
        ax.set_ylabel("pass@1")
        ax.set_ylim(0, 1)
        ax.legend()
        ax.set_title("Scores before and after training (black lines: 95% intervals)")
        save(fig, "scores")

        # One panel per evaluator that reports groups (the synthetic sets: by level): where
        # training helped, not just how much. Bars side by side per model: groups are categories,
        # and a line between them would suggest an order or a trend that is not there.
        grouped = [e for e in evaluators if any(scores[t].get(e, {}).get("by_group") for t in tags)]
        if grouped:
            save(_groups_figure(plt, scores, tags, grouped), "scores_by_group")
    return made


def _bands(run_dir: Path) -> dict[str, tuple[float, float]] | None:
    """The difficulty band of each domain (``"*"``: the global one) from the run's recipe.yaml;
    None when the run has none or it no longer loads (the plot then shades nothing)."""
    path = run_dir / "recipe.yaml"
    if not path.exists():
        return None
    from redstar.errors import RedStarError
    from redstar.recipe import load_recipe

    try:
        selection = load_recipe(path).selection
    except RedStarError:
        return None
    bands = {"*": (float(selection.min_level), float(selection.max_level))}
    for domain in selection.domains:
        bands[domain] = tuple(float(x) for x in selection.band(domain))  # type: ignore[assignment]
    return bands


LevelCounts = Counter  # (domain, level) -> prompts


def _level_counts(path: Path) -> LevelCounts:
    """Prompts per (domain, rounded level) of a prompt table, counted as it streams past (the
    table of a paper-scale run holds hundreds of thousands of prompts)."""
    counts: LevelCounts = Counter()
    if path.exists():
        for _, row in iter_jsonl(path):
            if row.get("difficulty") is not None:
                counts[str(row.get("domain", "")), round(row["difficulty"])] += 1
    return counts


def _difficulty_figure(plt: Any, scored: LevelCounts, selected: LevelCounts,
                       bands: dict[str, tuple[float, float]] | None) -> Any:
    """Loaded (scored) and selected prompts by level, one panel per domain, each domain's
    difficulty band shaded: what the selection kept out of what it was given."""
    def by_level(counts: LevelCounts, domain: str | None) -> dict[int, int]:
        out: Counter = Counter()
        for (d, level), n in counts.items():
            if domain is None or d == domain:
                out[level] += n
        return dict(out)

    domains = sorted({d for d, _ in scored})
    panels: list[str | None] = [None] if len(domains) < 2 else list(domains)
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.4, 0.6 + 2.6 * len(panels)), squeeze=False)
    for ax, domain in zip(axes[:, 0], panels):
        loaded, kept = by_level(scored, domain), by_level(selected, domain)
        n_loaded, n_kept = sum(loaded.values()), sum(kept.values())
        handles = [
            ax.bar(list(loaded), list(loaded.values()), width=1.0, color="#bdc3c7", edgecolor="white",
                   label=f"loaded ({n_loaded})"),
            ax.bar(list(kept), list(kept.values()), width=0.6, color="#c0392b", edgecolor="white",
                   label=f"selected ({n_kept})")]
        band = None
        if bands is not None:
            band = bands.get(domain or (domains[0] if len(domains) == 1 else "*"), bands["*"])
        if band is not None:
            low, high = band
            handles.append(ax.axvspan(low - 0.5, high + 0.5, color="#f1c40f", alpha=0.18, zorder=0,
                                      label=f"band {low:g}-{high:g}"))
        ax.set_xticks(range(1, 11))
        ax.set_xlim(0.5, 10.5)
        ax.set_ylabel("prompts")
        # outside: never over a bar
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        name = "" if domain is None else f"{domain}: "
        ax.set_title(f"{name}{n_loaded} loaded, {n_kept} selected", fontsize=10)
    axes[-1, 0].set_xlabel("difficulty level")
    title = f"Difficulty: {sum(scored.values())} prompts loaded, {sum(selected.values())} selected"
    if len(panels) > 1:
        fig.suptitle(title)
    else:
        axes[0, 0].set_title(title)
    return fig


def _group_label(group: str) -> str:
    import textwrap

    return textwrap.fill(group.replace("level ", "L"), width=LABEL_WRAP)


LABEL_WRAP = 12  # characters per line of a group's tick label
CHAR_INCHES = 0.075  # about one character at font size 8


def _groups_figure(plt: Any, scores: dict[str, Any], tags: list[str], grouped: list[str]) -> Any:
    """Per-group pass@1, one panel (row) per evaluator, one bar per model in each group. Labels
    are wrapped, and turned only when a panel's groups leave them too little room."""
    per_panel = {name: sorted({g for t in tags for g in scores[t].get(name, {}).get("by_group", {})},
                              key=group_order) for name in grouped}
    most = max(len(groups) for groups in per_panel.values())
    width = max(6.4, min(18.0, 1.5 + most * (0.3 * len(tags) + 0.3)))
    fig, axes = plt.subplots(len(grouped), 1, figsize=(width, 3.4 * len(grouped)), squeeze=False)
    bar = 0.8 / max(1, len(tags))
    for ax, name in zip(axes[:, 0], grouped):
        groups = per_panel[name]
        for j, tag in enumerate(tags):
            by_group = scores[tag].get(name, {}).get("by_group", {})
            xs = [i - 0.4 + bar * (j + 0.5) for i in range(len(groups))]
            ax.bar(xs, [by_group.get(g, {}).get("pass@1", float("nan")) for g in groups], bar, label=tag)
            _interval_bars(ax, xs, [by_group.get(g, {}).get("pass@1_ci") for g in groups])
        labels = [_group_label(g) for g in groups]
        widest = max(len(line) for label in labels for line in label.splitlines())
        room = (width - 1.5) / max(1, len(groups))  # inches of axis per group
        turn = widest * CHAR_INCHES > 0.9 * room
        if turn:  # too many groups for level text: one line each, upright (turned text never overlaps)
            labels = [g.replace("level ", "L") for g in groups]
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(labels, fontsize=8, rotation=90 if turn else 0)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_ylim(0, 1.2)  # room above 1.0 for the legend
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_ylabel("pass@1")
        ax.set_title(f"{name}: pass@1 by group (black lines: 95% intervals)", fontsize=10)
        ax.legend(fontsize=8, ncols=len(tags), loc="upper right")
    return fig
