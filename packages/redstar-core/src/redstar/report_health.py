"""The report's "Training health" section: for each RL stage, whether its policy moved and its
reward changed (:mod:`redstar.training_health`), with the figures behind the verdict."""

from __future__ import annotations

from typing import Any

from redstar.training_health import MIN_DPO_DRIFT, MIN_POLICY_KL


def _num(value: Any, form: str = ".3g") -> str:
    return "-" if value is None else format(value, form)


def _verdict(health: dict[str, Any]) -> str:
    if health.get("trained") is False:
        return "**did not train**: " + "; ".join(health.get("reasons", []))
    if health.get("trained") is None:
        return "cannot tell (no KL logged and no reward trend)"
    return "trained"


def health_rows(summary: dict[str, Any]) -> list[str]:
    """Markdown lines of the section (none for a run without RL stages)."""
    health = summary.get("training_health") or {}
    if not health:
        return []
    online = {tag: h for tag, h in health.items() if "kl_max" in h}
    preference = {tag: h for tag, h in health.items() if "drift" in h}
    lines = ["", "## Training health", "",
             f"An RL stage **did not train** when its policy did not move (per-token KL to the reference below "
             f"{MIN_POLICY_KL:g} nats; DPO: |log-ratio| below {MIN_DPO_DRIFT:g} nats per response) or its reward "
             "stayed flat (last rollouts against first within two standard errors); its comparisons then say so "
             "instead of *within noise*.", ""]
    if online:
        lines += ["| stage | KL max (last) | reward first -> last | change [SE] | entropy first -> last | "
                  "zero-variance prompts | clip fraction | value loss | explained variance | verdict |",
                  "|---|" + "---|" * 9]
        for tag, h in online.items():
            change = "-" if h.get("reward_change") is None else \
                f"{h['reward_change']:+.3f} [{_num(h.get('reward_change_se'), '.3f')}]"
            lines.append(
                f"| {tag} ({h['trainer']}) | {_num(h.get('kl_max'))} ({_num(h.get('kl_last'))}) | "
                f"{_num(h.get('reward_first'), '.3f')} -> {_num(h.get('reward_last'), '.3f')} | {change} | "
                f"{_num(h.get('entropy_first'))} -> {_num(h.get('entropy_last'))} | "
                f"{_num(h.get('zero_variance_prompts'), '.2f')} | {_num(h.get('clip_fraction'), '.3f')} | "
                f"{_num(h.get('value_loss'))} | {_num(h.get('explained_variance'), '.2f')} | {_verdict(h)} |")
    if preference:
        lines += ["", "| stage | drift (nats per response) | margin first -> last | accuracy first -> last | verdict |",
                  "|---|---|---|---|---|"]
        for tag, h in preference.items():
            lines.append(f"| {tag} ({h['trainer']}) | {_num(h.get('drift'))} | {_num(h.get('margin_first'))} -> "
                         f"{_num(h.get('margin_last'))} | {_num(h.get('accuracy_first'), '.2f')} -> "
                         f"{_num(h.get('accuracy_last'), '.2f')} | {_verdict(h)} |")
    return lines
