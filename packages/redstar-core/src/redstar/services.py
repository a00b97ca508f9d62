"""What the run pipeline and the command line both do, written once: build a run's verifiers,
verify responses, score responses with the rule reward, and evaluate a model on a benchmark.

The pipeline's stages and ``redstar verify`` / ``eval`` / ``train`` call these; so does the
OpenRLHF reward module, which must judge exactly as the pipeline does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from redstar.faults import check_problems, check_verdict, check_verdicts
from redstar.interfaces import Evaluator, Sampler, SamplingParams, Verifier
from redstar.records import Prompt, Verdict


class VerifierPool:
    """One verifier per domain, built on first use and closed together. ``make(domain)`` builds
    one with the options the recipe (or the command line) gives it."""

    def __init__(self, make: Callable[[str], Verifier]) -> None:
        self._make = make
        self._built: dict[str, Verifier] = {}

    @classmethod
    def from_options(cls, host: Any, options: Mapping[str, Mapping[str, Any]] | None = None) -> VerifierPool:
        """Verifiers from ``host`` with ``options[domain]`` (e.g. a recipe's ``verifiers``)."""
        from redstar.plugins import instantiate

        options = options or {}
        return cls(lambda domain: instantiate(host.get("verifiers", domain), dict(options.get(domain, {}))))

    def verifier(self, domain: str) -> Verifier:
        if domain not in self._built:
            self._built[domain] = self._make(domain)
        return self._built[domain]

    def verify(self, items: Sequence[tuple[str, Prompt]]) -> list[Verdict]:
        """Verdicts for ``(response, prompt)`` pairs of any domains, in input order; each
        domain's share goes to its verifier's ``verify_many`` at once (code runs them in
        parallel sandboxes)."""
        by_domain: dict[str, list[int]] = {}
        for i, (_, prompt) in enumerate(items):
            by_domain.setdefault(prompt.domain, []).append(i)
        verdicts: list[Verdict | None] = [None] * len(items)
        for domain, indices in by_domain.items():
            verifier = self.verifier(domain)
            results = check_verdicts(verifier, verifier.verify_many([items[i] for i in indices]), len(indices))
            for i, verdict in zip(indices, results):
                verdicts[i] = verdict
        return verdicts  # type: ignore[return-value]

    def close(self) -> None:
        for verifier in self._built.values():
            verifier.close()
        self._built.clear()


def rule_reward(verifiers: Any) -> Callable[[Sequence[Mapping[str, Any]], Sequence[str]], list[float]]:
    """The rule reward of online RL: 1 correct, 0 wrong, -1 no valid answer, judged by the
    verifier of each row's domain (``verifiers`` is anything with ``verifier(domain)``: a
    :class:`VerifierPool` or a run's context). Rows are ``online.jsonl`` rows (``domain``,
    ``reference``, ``metadata``)."""

    def reward(rows: Sequence[Mapping[str, Any]], responses: Sequence[str]) -> list[float]:
        out = []
        for row, response in zip(rows, responses):
            verifier = verifiers.verifier(row["domain"])
            verdict = check_verdict(verifier, verifier.verify(response, row["reference"], row.get("metadata") or {}))
            out.append(float(verdict.reward))
        return out

    return reward


def evaluate_on(board: Any, label: str, evaluator: Evaluator, sampler: Sampler, verifier: Verifier,
                params: SamplingParams, results_file: str | Path) -> Any:
    """Evaluate ``sampler``'s model on ``evaluator``'s problems with a progress bar, appending
    per-problem rows to ``results_file`` (a rerun resumes there); the :class:`Score`."""
    from redstar.evaluation import evaluate

    problems = check_problems(evaluator, evaluator.load())
    with board.task(label, len(problems)) as update:
        return evaluate(evaluator.name, problems, sampler, verifier, params, results_file,
                        on_progress=lambda done, total: update(done, total))
