"""Noticing a backend that does not sample: ``n`` completions per prompt that are all the same
text although the temperature asked for sampling.

A server that decodes greedily whatever the request says (``transformers serve`` does unless
the request carries ``generation_config: {"do_sample": true}``), or one that hands back a cached
answer, turns every prompt's ``n`` samples into ``n`` copies of one. Nothing downstream fails:
cleaning drops the copies as duplicates and the run trains on a fraction of the data it paid
for. So a sampling call whose completions look like that stops the run with a message that
names the backend and the likely cause.

The rule must not fire on real sampling. Two independent samples can coincide when they are
short (a bare ``\\boxed{19}``) or when the model is nearly certain, so a call is judged only on
prompts whose completions are long enough, and only when there are several such prompts and
*every* one of them came back as copies of a single text.
"""

from __future__ import annotations

from collections.abc import Sequence

from redstar.errors import RedStarError
from redstar.interfaces import Completion, SamplingParams

#: Completions shorter than this (characters, the longest of the prompt's) may repeat by chance.
MIN_CHARS = 64
#: How many prompts with long completions a call needs before it is judged.
MIN_PROMPTS = 3


class IdenticalSamplesError(RedStarError):
    """A backend returned identical completions at a temperature that asked for sampling."""


def identical_prompts(completions: Sequence[Sequence[Completion | None]]) -> tuple[int, int]:
    """``(judged, identical)``: how many prompts have two or more completions, the longest at
    least :data:`MIN_CHARS` long, and how many of those have a single text. Missing completions
    (``None``, an interrupted call) are left out."""
    judged = identical = 0
    for row in completions:
        texts = [c.text for c in row if c is not None]
        if len(texts) < 2 or max(len(t) for t in texts) < MIN_CHARS:
            continue
        judged += 1
        identical += len(set(texts)) == 1
    return judged, identical


def check_samples_differ(completions: Sequence[Sequence[Completion | None]], params: SamplingParams,
                         backend: str, cause: str = "") -> None:
    """Raise :class:`IdenticalSamplesError` when a call at ``temperature > 0`` returned one text
    per prompt, repeated: at least :data:`MIN_PROMPTS` prompts qualify (see
    :func:`identical_prompts`) and every one of them is all copies. ``backend`` names what
    produced them (``"openai sampler at http://..."``); ``cause`` says what to check, when the
    caller knows better than the generic advice."""
    if params.temperature <= 0 or params.n < 2:
        return
    judged, identical = identical_prompts(completions)
    if judged < MIN_PROMPTS or identical < judged:
        return
    cause = cause or (
        "the backend probably decodes greedily whatever the temperature (or ignores the sampling "
        "parameters, or returns a cached answer), so the samples are copies and cleaning would drop "
        "all but one; check how the backend is configured to sample"
    )
    raise IdenticalSamplesError(
        f"{backend} returned {params.n} identical completions for each of {judged} prompts at "
        f"temperature {params.temperature}: {cause}"
    )
