"""The sweep's files: ``sweep.json`` (everything), ``sweep.md`` and ``sweep.html`` (the tables)
and ``sweep.png`` (one panel per table: a bar per row and evaluator, with its 95% interval)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from redstar.report_health import fmt_num, verdict
from redstar.report_plots import _interval_bars
from redstar.report_tables import TESTS
from redstar.tables import write_json

AVERAGE = "average"


def fmt_cell(cell: dict[str, Any] | None) -> str:
    """``0.412 [0.33, 0.50] ±0.021`` (pass@1, its 95% interval, the sd over seeds)."""
    if not cell or cell.get("pass_at_1") is None:
        return "-"
    text = f"{cell['pass_at_1']:.3f}"
    if cell.get("ci"):
        text += f" [{cell['ci'][0]:.2f}, {cell['ci'][1]:.2f}]"
    spread = cell.get("spread")
    if spread and spread["seeds"] > 1:
        text += f" ±{spread['std']:.3f}"
    return text


def fmt_difference(c: dict[str, Any] | None) -> str:
    """``-0.032 [-0.10, +0.04] p=0.41 *within noise*`` against the baseline row."""
    if not c:
        return "-"
    low, high = c["ci"]
    word = "*within noise*" if c["within_noise"] else ("**better**" if c["difference"] > 0 else "**worse**")
    return f"{c['difference']:+.3f} [{low:+.2f}, {high:+.2f}] p={c['p_value']:.2g} {word}"


def row_label(row: dict[str, Any], seeds: list[int]) -> str:
    """The row's label, with the seeds it has when some of the sweep's have not finished (so
    that a partly run sweep's rows are not read as pooled over every seed)."""
    done = sorted(row.get("seeds_finished") or [])
    if not done or done == sorted(seeds):
        return str(row["label"])
    return f"{row['label']} (seed{'s' if len(done) > 1 else ''} {', '.join(map(str, done))} only)"


def markdown(result: dict[str, Any]) -> str:
    evaluators = result["evaluators"]
    columns = [*evaluators, AVERAGE]
    seeds = result["seeds"]
    lines = [f"# Sweep: {result['name']}", "",
             f"Rows: the {result['model']} model of each variant, over seeds {', '.join(map(str, seeds))}. "
             "Cells: pass@1 [95% interval over problems]" + (" ±sd over seeds" if len(seeds) > 1 else "") + ". "
             "Against the first row: the difference on the same problems (seeds pooled), its 95% interval and "
             "p-value; *within noise* when the interval contains 0 or p >= 0.05.", ""]
    for table in result["tables"]:
        lines += [f"## {table['title']}", "", "| variant | " + " | ".join(columns) + " |",
                  "|---|" + "---|" * len(columns)]
        for row in table["rows"]:
            cells = [fmt_cell(row["cells"].get(e)) for e in evaluators] + [fmt_cell(row["average"])]
            lines.append(f"| {row_label(row, seeds)} | " + " | ".join(cells) + " |")
        if len(table["rows"]) > 1:
            first = row_label(table["rows"][0], seeds)
            lines += ["", f"Against **{first}**:", "", "| variant | " + " | ".join(columns) + " |",
                      "|---|" + "---|" * len(columns)]
            for row in table["rows"][1:]:
                cells = [fmt_difference(row["cells"].get(e, {}).get("vs_baseline")) for e in evaluators]
                cells.append(fmt_difference(row["average"].get("vs_baseline")))
                lines.append(f"| {row_label(row, seeds)} | " + " | ".join(cells) + " |")
        lines.append("")
        lines += room_lines(table, evaluators, seeds)
        lines += health_lines(table)
    tests = sorted({TESTS.get(c["vs_baseline"]["test"], c["vs_baseline"]["test"]) for t in result["tables"]
                    for r in t["rows"] for c in r["cells"].values() if c.get("vs_baseline")})
    if tests:
        lines += [f"Tests per evaluator: {', '.join(tests)}; average: stratified bootstrap and sign-flip.", ""]
    lines += selection_lines(result.get("selection"))
    lines += ["## Variants", "", "| run | values | seed | finished |", "|---|---|---|---|"]
    for v in result["variants"]:
        values = list(v["values"])
        if "candidate" in v:
            values.append(f"{v['candidate']} ({'chosen' if v['chosen'] else 'not chosen: validation only'})")
        lines.append(f"| `{v['run_dir']}` | {'; '.join(values) or '-'} | {v['seed']} | "
                     f"{'yes' if v['finished'] else 'no'} |")
    return "\n".join(lines) + "\n"


def room_lines(table: dict[str, Any], evaluators: list[str], seeds: list[int]) -> list[str]:
    """Under a table whose runs had a sampled evaluation: each row's pass@k, pass@k minus pass@1,
    and the share of the primary-wrong answers some sample solves (seeds pooled)."""
    found = [e for e in evaluators if any(r["cells"].get(e, {}).get("room") for r in table["rows"])]
    if not found:
        return []
    lines = ["Room for RL (k samples per problem beside the primary answer, seeds pooled): pass@k [95%], "
             "pass@k - pass@1 [95%], and the primary-wrong answers some sample solves:", "",
             "| variant | " + " | ".join(found) + " |", "|---|" + "---|" * len(found)]
    for row in table["rows"]:
        cells = []
        for e in found:
            room = row["cells"].get(e, {}).get("room")
            if not room or not room.get("problems"):
                cells.append("-")
                continue
            gain, (low, high) = room["gain"], room["gain"]["ci"]
            cells.append(f"pass@{room['k']} {room['pass_at_k']:.3f} [{room['pass_at_k_ci'][0]:.2f}, "
                         f"{room['pass_at_k_ci'][1]:.2f}]; {gain['difference']:+.3f} [{low:+.2f}, {high:+.2f}]; "
                         f"{room['solved_by_a_sample']}/{room['wrong']} = {room['share']:.2f} "
                         f"[{room['share_ci'][0]:.2f}, {room['share_ci'][1]:.2f}]")
        lines.append(f"| {row_label(row, seeds)} | " + " | ".join(cells) + " |")
    return lines + [""]


def health_lines(table: dict[str, Any]) -> list[str]:
    """Under a table with RL rows: each seed's training health (docs/training.md, "Training
    health"): how far the policy moved, the reward's trend, and the verdict."""
    found = [(row["label"], h) for row in table["rows"] for h in row.get("health", [])]
    if not found:
        return []
    lines = ["Training health of each RL stage, seed by seed (KL: the largest per-token KL to the reference; "
             "DPO: drift, its largest |log-ratio| per response; reward: the first and last rollouts' mean, and the "
             "change from the first quarter to the last with its standard error):", "",
             "| variant | seed | stage | KL max / drift | reward first -> last | change [SE] | verdict |",
             "|---|---|---|---|---|---|---|"]
    for label, h in found:
        moved = f"drift {fmt_num(h.get('drift'))}" if "drift" in h else fmt_num(h.get("kl_max"))
        reward = "-" if h.get("reward_first") is None else \
            f"{h['reward_first']:.3f} -> {fmt_num(h.get('reward_last'), '.3f')}"
        change = "-" if h.get("reward_change") is None else \
            f"{h['reward_change']:+.3f} [{fmt_num(h.get('reward_change_se'), '.3f')}]"
        lines.append(f"| {label} | {h['seed']} | {h.get('tag', '-')} ({h.get('trainer', '-')}) | {moved} | {reward} | "
                     f"{change} | {verdict(h)} |")
    return lines + [""]


def selection_lines(selection: dict[str, Any] | None) -> list[str]:
    """The choices made on validation: for each row with candidates, every candidate's
    validation pass@1 (per set and averaged, seeds pooled), the chosen one in bold."""
    if not selection:
        return []
    lines = ["## Chosen on validation", "",
             f"Each row with candidates is the one whose {selection['model']} model had the best {selection['metric']} "
             f"on the {selection['on']} sets (the mean over the sets, seeds pooled); only it was scored on the "
             "held-out sets above.", ""]
    for group in selection["groups"]:
        columns = [*group["evaluators"], AVERAGE]
        lines += [f"**{', '.join(group['values'])}**", "", "| candidate | " + " | ".join(columns) + " |",
                  "|---|" + "---|" * len(columns)]
        for c in group["candidates"]:
            cells = [fmt_cell(c["cells"].get(e)) for e in group["evaluators"]] + [fmt_cell(c["average"])]
            label = f"**{c['label']} (chosen)**" if c["label"] == group["chosen_label"] else c["label"]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def plot(result: dict[str, Any], path: Path) -> Path | None:
    """One panel per table: for each evaluator and the average, a bar per row (pass@1) with its
    95% interval. None when no table has a score."""
    tables = [t for t in result["tables"] if any(r["cells"] for r in t["rows"])]
    if not tables:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [*result["evaluators"], AVERAGE]
    fig, axes = plt.subplots(len(tables), 1, figsize=(max(6.4, 1.8 + 1.3 * len(columns)), 3.4 * len(tables)),
                             squeeze=False)
    for ax, table in zip(axes[:, 0], tables):
        rows = table["rows"]
        width = 0.8 / max(1, len(rows))
        for j, row in enumerate(rows):
            cells = [row["cells"].get(e) for e in result["evaluators"]] + [row["average"]]
            xs = [i - 0.4 + width * (j + 0.5) for i in range(len(columns))]
            ax.bar(xs, [c["pass_at_1"] if c and c.get("pass_at_1") is not None else float("nan") for c in cells],
                   width, label=row["label"])
            _interval_bars(ax, xs, [c.get("ci") if c else None for c in cells])
        ax.set_xticks(range(len(columns)))
        ax.set_xticklabels(columns, fontsize=8)
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("pass@1")
        ax.set_title(f"{table['title']} (black lines: 95% intervals)", fontsize=10)
        ax.legend(fontsize=8, ncols=min(4, len(rows)), loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_sweep_files(out: Path, result: dict[str, Any]) -> dict[str, Path]:
    """``sweep.json``, ``sweep.md``, ``sweep.html`` and (when there are scores) ``sweep.png``."""
    from markdown_it import MarkdownIt

    files = {"json": out / "sweep.json", "md": out / "sweep.md", "html": out / "sweep.html"}
    write_json(files["json"], result)
    text = markdown(result)
    files["md"].write_text(text, encoding="utf-8")
    picture = plot(result, out / "sweep.png")
    body = MarkdownIt("commonmark").enable("table").render(text)
    if picture is not None:
        files["png"] = picture
        data = base64.b64encode(picture.read_bytes()).decode("ascii")
        body += f'<figure><img alt="{html.escape(result["name"])}" src="data:image/png;base64,{data}"></figure>'
    page = ("<!doctype html><meta charset='utf-8'><title>RedStar sweep</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
            "td:first-child,th:first-child{text-align:left}img{max-width:100%}</style>" + body)
    files["html"].write_text(page, encoding="utf-8")
    return files
