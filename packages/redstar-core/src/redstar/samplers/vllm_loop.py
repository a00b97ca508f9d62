"""Feeding one vLLM engine continuously from several ``generate`` calls at once.

``vllm.LLM.generate`` takes a batch and returns when its last request finished: the engine
drains at the end of every call, running fewer and fewer sequences while the longest samples
of the batch finish (with Long-CoT lengths from a few hundred to 16k tokens, most of a call's
tail). :class:`EngineLoop` instead owns the engine (``LLM.llm_engine``) in a thread of its own:
callers hand it their requests and wait for their own outputs, the thread adds every request
as soon as it arrives and steps the engine while any is unfinished. A sampler replica that
holds a second chunk while the first runs (the Ray engine sends one running and one queued)
then has the second chunk's requests in the engine before the first one's tail, and the
engine's batch stays full until the run has nothing more to give.

Each request carries its own seed (one ``n=1`` request per sample, see
:func:`~redstar.samplers.vllm_engine.plan_requests`), so what a sample draws does not depend on
which other requests share the engine; vLLM's prefix cache keeps the repeated prompt cheap.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

#: Seconds a waiting caller sleeps between checks, so that Ctrl-C reaches it.
WAKE_S = 0.5


class _Call:
    """One caller's requests: their outputs by position, and how many are still running."""

    def __init__(self, count: int, on_output: Callable[[int, Any], None] | None) -> None:
        self.outputs: list[Any] = [None] * count
        self.left = count
        self.on_output = on_output
        self.ids: list[str] = []
        self.error: BaseException | None = None
        self.done = threading.Event()
        if count == 0:
            self.done.set()


class EngineLoop:
    """Runs ``engine`` (a vLLM ``LLMEngine``: ``add_request``, ``step``, ``abort_request``,
    ``has_unfinished_requests``) in a daemon thread; :meth:`run` may be called from any number
    of threads at once. ``on_step`` is called after every engine step (a replica's heartbeat)."""

    def __init__(self, engine: Any, on_step: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._on_step = on_step
        self._inbox: queue.Queue[tuple[str, _Call, Sequence[Any], Sequence[Any]]] = queue.Queue()
        self._running: dict[str, tuple[_Call, int]] = {}
        self._ids = itertools.count()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="redstar-vllm-engine", daemon=True)
        self._thread.start()

    def run(self, prompts: Sequence[Any], params: Sequence[Any],
            on_output: Callable[[int, Any], None] | None = None) -> list[Any]:
        """The finished ``RequestOutput`` of each ``(prompt, params)`` pair, in order.
        ``on_output(position, output)`` is called (in the engine's thread) as each finishes.
        On Ctrl-C the call's unfinished requests are aborted and :class:`Interrupted` holds
        the outputs that had arrived (None for the others)."""
        if self._failed is not None:
            raise RuntimeError(f"the vLLM engine loop stopped earlier: {self._failed}") from self._failed
        call = _Call(len(prompts), on_output)
        self._inbox.put(("add", call, prompts, params))
        try:
            while not call.done.wait(WAKE_S):
                if not self._thread.is_alive():
                    raise RuntimeError("the vLLM engine loop is gone") from self._failed
        except KeyboardInterrupt:
            self._inbox.put(("abort", call, (), ()))
            raise Interrupted(list(call.outputs)) from None
        if call.error is not None:
            raise call.error
        return call.outputs

    def close(self) -> None:
        """Stop the thread (requests still running are aborted)."""
        if self._thread.is_alive():
            self._inbox.put(("stop", _Call(0, None), (), ()))
            self._thread.join(timeout=30)

    # -- the engine's thread ---------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while True:
                idle = not self._running
                try:
                    # Wait for work only when the engine has none; otherwise take what came.
                    message = self._inbox.get(block=idle)
                except queue.Empty:
                    message = None
                while message is not None:
                    if not self._take(*message):
                        return
                    try:
                        message = self._inbox.get_nowait()
                    except queue.Empty:
                        message = None
                if self._running:
                    self._step()
        except BaseException as exc:  # noqa: BLE001 - handed to every caller waiting on it
            self._failed = exc
            for call, _ in list(self._running.values()):
                call.error = exc
                call.done.set()
            self._running.clear()

    def _take(self, kind: str, call: _Call, prompts: Sequence[Any], params: Sequence[Any]) -> bool:
        if kind == "stop":
            self._abort([rid for rid in self._running])
            return False
        if kind == "abort":
            self._abort([rid for rid in call.ids if rid in self._running])
            call.done.set()
            return True
        try:
            for position, (prompt, sampling) in enumerate(zip(prompts, params)):
                rid = f"redstar-{next(self._ids)}"
                self._engine.add_request(rid, prompt, sampling)
                call.ids.append(rid)
                self._running[rid] = (call, position)
        except Exception as exc:  # noqa: BLE001 - a request vLLM refuses fails its call only
            self._abort([rid for rid in call.ids if rid in self._running])
            call.error = exc
            call.done.set()
        return True

    def _abort(self, ids: list[str]) -> None:
        if ids:
            self._engine.abort_request(ids)
        for rid in ids:
            self._running.pop(rid, None)

    def _step(self) -> None:
        for output in self._engine.step():
            if not getattr(output, "finished", False) or output.request_id not in self._running:
                continue
            call, position = self._running.pop(output.request_id)
            call.outputs[position] = output
            call.left -= 1
            if call.on_output is not None:
                call.on_output(position, output)
            if call.left == 0:
                call.done.set()
        if self._on_step is not None:
            self._on_step()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :meth:`EngineLoop.run`: ``outputs`` holds what had finished (None where a
    request had not)."""

    def __init__(self, outputs: list[Any]) -> None:
        super().__init__("interrupted")
        self.outputs = outputs
