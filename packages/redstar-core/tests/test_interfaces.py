"""The base classes declare what callers rely on, so no caller probes with ``hasattr``."""

from __future__ import annotations

from redstar.interfaces import Sampler


class Silent(Sampler):
    """A sampler that never mentions progress."""

    name = "silent"

    def generate(self, conversations, params):
        if self.on_progress is not None:
            self.on_progress(len(conversations), len(conversations))
        return [[] for _ in conversations]


def test_every_sampler_has_an_on_progress_slot_that_defaults_to_none():
    sampler = Silent(model="m")
    assert sampler.on_progress is None
    seen = []
    sampler.on_progress = lambda finished, total: seen.append((finished, total))
    sampler.generate([[], []], params=None)
    assert seen == [(2, 2)]
    assert Silent(model="m").on_progress is None  # set per instance, not on the class
