r"""``MathVerifier``: the rule reward for math (1 correct, 0 wrong, -1 no valid final answer).

The response must commit to a final answer (``\boxed{}``, "The answer is ...", "Final Answer:",
"####"; see :mod:`redstar_math.extract`); a number somewhere in the reasoning is not an answer.
The committed answer is compared with the gold answer by :func:`redstar_math.equivalence.compare`:
cheap exact paths first, sympy only for what RedStar's own parser cannot read, in a worker
process with a hard time limit. ``docs/math.md`` lists every equivalence rule with examples.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from redstar.errors import RedStarError
from redstar.interfaces import Messages, Verifier
from redstar.records import Prompt, Verdict
from redstar_math.budget import BudgetExceeded, time_limit
from redstar_math.cas import close_shared_cas, shared_cas
from redstar_math.equivalence import canonical, compare
from redstar_math.extract import ExtractionTimeout, extract_final_answer, final_answer_parts

log = logging.getLogger(__name__)

#: Below this many items, worker processes cost more than they save.
MIN_PARALLEL_ITEMS = 256
CHUNK = 128


class MathVerifier(Verifier):
    """Verify math responses against gold answers.

    ``Verdict.extracted`` is the answer in canonical form (``0.5``, ``\\frac12`` and ``1/2`` all
    become ``1/2``), so majority voting counts equal answers together.

    Args:
        timeout: The hard budget in seconds for one check (extraction, comparison and any sympy
            call together). A check that runs out is "wrong", with reason ``timeout`` (or
            ``not equal (timeout)`` when it ran out between comparison steps); in the main
            thread an alarm enforces it even inside a single step (:mod:`redstar_math.budget`).
        use_cas: Whether the sympy fallback may read answers RedStar's parser cannot.
        workers: Processes for :meth:`verify_many` (1 checks in this process). Scripts that set
            it above 1 need the usual ``if __name__ == "__main__":`` guard of Python
            multiprocessing.
        system_prompt: A system message sent before the user turn. By default there is none and
            the instruction travels in the user turn, as Qwen2.5-Math and DeepSeek-R1 recommend.
        strict_decimals: Whether a decimal must be exactly the gold's value. By default (false) a
            decimal with at least three significant digits also equals an exact value it is
            correctly rounded from (``0.333`` for ``\\frac13``, ``3.14`` for ``\\pi``; docs/math.md,
            "Rounding"); true accepts ``0.5`` for ``\\frac12`` but not those, as a reward for exact
            answers wants (``verifiers: {math: {strict_decimals: true}}`` in a recipe).
    """

    domain = "math"
    instruction = "Please reason step by step, and put your final answer within \\boxed{}."

    def __init__(self, timeout: float = 5.0, use_cas: bool = True, workers: int = 1,
                 system_prompt: str | None = None, strict_decimals: bool = False) -> None:
        if timeout <= 0:
            raise RedStarError(f"math verifier: timeout must be positive, got {timeout}")
        if workers < 1:
            raise RedStarError(f"math verifier: workers must be at least 1, got {workers}")
        for name, value in (("use_cas", use_cas), ("strict_decimals", strict_decimals)):
            if not isinstance(value, bool):
                raise RedStarError(f"math verifier: {name} must be true or false, got {value!r}")
        self.timeout = float(timeout)
        self.use_cas = use_cas
        self.workers = workers
        self.system_prompt = system_prompt
        self.strict_decimals = strict_decimals

    def messages(self, prompt: Prompt) -> Messages:
        conversation = super().messages(prompt)
        if self.system_prompt:
            return [{"role": "system", "content": self.system_prompt}, *conversation]
        return conversation

    def extract(self, response: str) -> str | None:
        """The final answer as written in the response, or None when it commits to none."""
        return extract_final_answer(response)

    def verify(self, response: str, reference: str, metadata: Mapping[str, Any] | None = None) -> Verdict:
        deadline = time.monotonic() + self.timeout
        try:
            with time_limit(self.timeout):
                return self._verify(response, reference, deadline)
        except (BudgetExceeded, ExtractionTimeout):
            return Verdict.wrong(None, "timeout")

    def _verify(self, response: str, reference: str, deadline: float) -> Verdict:
        parts = final_answer_parts(response, deadline)
        if parts is None:
            return Verdict.no_answer("no final answer (no \\boxed{}, 'The answer is' or 'Final Answer:')")
        answer = ", ".join(parts)
        cas = shared_cas() if self.use_cas else None
        try:
            decision = compare(reference, answer, deadline, cas, self.strict_decimals)
            if not decision.equal and len(parts) > 1:
                # "$\boxed{x+11}$, or $\boxed{11+x}$": one answer spelt several ways. Only when every
                # box equals the gold - accepting any one box would reward listing guesses.
                each = [compare(reference, part, deadline, cas, self.strict_decimals) for part in parts]
                if all(d.equal for d in each):
                    decision = each[-1]
            extracted = canonical(answer)
        except Exception as exc:  # a malformed response must cost one sample, not the whole run
            log.warning("math verifier failed on answer %.80r vs %.80r: %s", answer, reference, exc)
            return Verdict.wrong(answer, f"could not compare: {type(exc).__name__}")
        if decision.equal:
            return Verdict.right(extracted, f"equal ({decision.path})")
        return Verdict.wrong(extracted, f"not equal ({decision.path})")

    def close(self) -> None:
        """Stop the sympy worker process, if a check started one (a later check starts another)."""
        close_shared_cas()

    def verify_many(self, items: Sequence[tuple[str, Prompt]]) -> list[Verdict]:
        """Verify in ``workers`` processes when there are many items; same results as one by
        one, in order."""
        if self.workers <= 1 or len(items) < MIN_PARALLEL_ITEMS:
            return super().verify_many(items)
        jobs = [(response, prompt.reference) for response, prompt in items]
        chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
        options = {"timeout": self.timeout, "use_cas": self.use_cas, "strict_decimals": self.strict_decimals}
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                 initializer=_start_worker, initargs=(options,)) as pool:
            return [verdict for chunk in pool.map(_verify_chunk, chunks) for verdict in chunk]


_worker_verifier: MathVerifier | None = None


def _start_worker(options: dict[str, Any]) -> None:
    global _worker_verifier
    _worker_verifier = MathVerifier(**options)


def _verify_chunk(jobs: list[tuple[str, str]]) -> list[Verdict]:
    assert _worker_verifier is not None
    return [_worker_verifier.verify(response, reference) for response, reference in jobs]
