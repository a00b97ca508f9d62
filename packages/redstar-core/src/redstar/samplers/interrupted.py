"""Ctrl-C during a sampling call, without losing what already arrived.

A call to a server can hold thousands of requests, some of them minutes long. When the user
presses Ctrl-C, a sampler that can stop early cancels what is in flight and raises
:class:`SamplingInterrupted` carrying the completions it did receive; the caller stores those
and lets the interrupt go on. It is a ``KeyboardInterrupt``, so code that does not know about
it still stops as on any Ctrl-C.
"""

from __future__ import annotations

from redstar.interfaces import Completion


class SamplingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a :meth:`~redstar.interfaces.Sampler.generate` call.

    ``completions`` has the shape of the call's result, one list of ``n`` per conversation in
    order, with ``None`` where a completion had not arrived. With per-completion
    ``params.seeds``, completion ``k`` of conversation ``c`` was drawn from ``seeds[c][k]``, so
    a caller may keep any of them and ask again later for exactly the missing ones.
    """

    def __init__(self, completions: list[list[Completion | None]]) -> None:
        self.completions = completions
        arrived = sum(c is not None for row in completions for c in row)
        total = sum(len(row) for row in completions)
        super().__init__(f"sampling interrupted; {arrived} of {total} completions had arrived")

    @property
    def arrived(self) -> int:
        """How many completions arrived before the interrupt."""
        return sum(c is not None for row in self.completions for c in row)
