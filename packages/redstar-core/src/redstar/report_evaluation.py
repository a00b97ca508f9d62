"""The report's rows for what the evaluation measures beside the primary scores: the sampled
evaluation and the room it leaves for RL (``evaluation.sampled``), and the validation scores
(``evaluation.validation``), which chose hyper-parameters and are not results."""

from __future__ import annotations

from typing import Any

from redstar.report_tables import fmt_pass, score_cell

ROOM_COLUMNS = ["evaluator", "model", "pass@1", "sampled pass@1", "pass@k", "pass@k - pass@1 [95% CI]",
                "primary-wrong solved by a sample"]


def room_rows(summary: dict[str, Any]) -> list[str]:
    """Markdown rows of the room for RL, one per model and evaluator that has a sampled score;
    none when the run had no sampled evaluation."""
    found = [(name, tag, score) for tag, per in summary.get("scores", {}).items()
             for name, score in sorted(per.items()) if score.get("room_for_rl")]
    if not found:
        return []
    rows = ["", "### Room for RL", "",
            "k answers sampled per problem (`evaluation.sampled`, by default at the RL trainers' temperature 1.0) "
            "beside the primary (greedy) answer: pass@k minus "
            "pass@1 is what an RL step that only sharpened the policy towards its own best samples could add "
            "(paired over problems), and the share of the problems the primary answer gets wrong that some sample "
            "solves; each with its 95% interval.", "",
            "| " + " | ".join(ROOM_COLUMNS) + " |", "|---|" + "---|" * (len(ROOM_COLUMNS) - 1)]
    for name, tag, score in found:
        room, drawn = score["room_for_rl"], score["sampled"]
        if not room.get("problems"):
            continue
        k = room["k"]
        gain = room["gain"]
        low, high = gain["ci"]
        share_low, share_high = room["share_ci"]
        cells = [name, tag, fmt_pass(score["pass_at_1"], score.get("pass_at_1_ci")),
                 fmt_pass(drawn["pass_at_1"], drawn.get("pass_at_1_ci")),
                 f"{fmt_pass(room['pass_at_k'], room['pass_at_k_ci'])} (k={k})",
                 f"{gain['difference']:+.3f} [{low:+.2f}, {high:+.2f}] p={gain['p_value']:.2g}",
                 f"{room['solved_by_a_sample']} of {room['wrong']}: {room['share']:.2f} [{share_low:.2f}, {share_high:.2f}]"]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def validation_rows(summary: dict[str, Any]) -> list[str]:
    """Markdown rows of the validation scores (every model on each validation set); none when
    the recipe has no validation sets."""
    validation = summary.get("validation") or {}
    if not validation:
        return []
    tags = list(validation)
    rows = ["", "### Validation", "",
            "Scored to choose hyper-parameters (`redstar sweep`'s `select`), apart from the held-out sets above; "
            "a validation question also in a held-out set is dropped from validation (counted).", "",
            "| validation set | " + " | ".join(tags) + " | dropped as held-out |", "|---|" + "---|" * (len(tags) + 1)]
    for name in sorted({e for per in validation.values() for e in per}):
        cells = []
        for tag in tags:
            s = validation[tag].get(name)
            cells.append("-" if s is None else score_cell(s))
        dropped = next((validation[t][name].get("dropped_as_heldout", 0) for t in tags if name in validation[t]), 0)
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {dropped} |")
    return rows
