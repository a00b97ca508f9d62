"""The report's "Training health" section: for each RL stage, whether its policy moved and its
reward changed (:mod:`redstar.training_health`), with the figures behind the verdict."""

from __future__ import annotations

from typing import Any

from redstar.training_health import MIN_DPO_DRIFT, MIN_POLICY_KL


def fmt_num(value: Any, form: str = ".3g") -> str:
    """``value`` formatted, ``-`` for None."""
    return "-" if value is None else format(value, form)


def verdict(health: dict[str, Any]) -> str:
    """An RL stage's verdict in words: trained, **did not train** with its reasons, or cannot
    tell; a stage that trained while its reward fell beyond its noise says so, since it moved
    the wrong way."""
    if health.get("trained") is False:
        return "**did not train**: " + "; ".join(health.get("reasons", []))
    if health.get("trained") is None:
        return "cannot tell (no KL logged and no reward trend)"
    change = health.get("reward_change")
    if health.get("reward_flat") is False and change is not None and change < 0:
        return (f"trained, but its **reward fell**: {change:+.3f} from its first to its last rollouts "
                f"(standard error {fmt_num(health.get('reward_change_se'), '.3f')})")
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
                f"{h['reward_change']:+.3f} [{fmt_num(h.get('reward_change_se'), '.3f')}]"
            lines.append(
                f"| {tag} ({h['trainer']}) | {fmt_num(h.get('kl_max'))} ({fmt_num(h.get('kl_last'))}) | "
                f"{fmt_num(h.get('reward_first'), '.3f')} -> {fmt_num(h.get('reward_last'), '.3f')} | {change} | "
                f"{fmt_num(h.get('entropy_first'))} -> {fmt_num(h.get('entropy_last'))} | "
                f"{fmt_num(h.get('zero_variance_prompts'), '.2f')} | {fmt_num(h.get('clip_fraction'), '.3f')} | "
                f"{fmt_num(h.get('value_loss'))} | {fmt_num(h.get('explained_variance'), '.2f')} | {verdict(h)} |")
    if preference:
        lines += ["", "| stage | drift (nats per response) | margin first -> last | accuracy first -> last | verdict |",
                  "|---|---|---|---|---|"]
        for tag, h in preference.items():
            lines.append(f"| {tag} ({h['trainer']}) | {fmt_num(h.get('drift'))} | {fmt_num(h.get('margin_first'))} -> "
                         f"{fmt_num(h.get('margin_last'))} | {fmt_num(h.get('accuracy_first'), '.2f')} -> "
                         f"{fmt_num(h.get('accuracy_last'), '.2f')} | {verdict(h)} |")
    return lines
