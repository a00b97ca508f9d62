"""A stand-in for a vLLM replica of the paper's teacher (QwQ-32B, tensor parallel 4 on H100s), for
``paper_scale_sim.py``: a RedStar sampler plugin (``simvllm``) that runs RedStar's real engine
loop (:class:`redstar.samplers.vllm_loop.EngineLoop`: requests join a running batch, a thread
steps the engine) over a *simulated* engine whose steps take the time a latency model says, on a
simulated clock that runs ``speedup`` times faster than the wall clock.

The model (every figure an assumption or a published number, named here and in docs/scale.md):

- **Memory.** QwQ-32B (Qwen2.5-32B architecture): 32.8e9 parameters, 65.5 GB of bf16 weights;
  64 layers x 8 KV heads x 128 dims x (K, V) x 2 bytes = 256 KiB of KV cache per token. A replica
  holds 4 x 80 GB x ``gpu_memory_utilization`` (0.9), less the weights and 4 GB per GPU of
  activations and CUDA graphs: about 206 GB of KV cache, 787k tokens. A request is admitted
  while the running contexts plus its own fit; when a decode step would overflow the cache, the
  newest request is preempted (vLLM V1's policy): it keeps the tokens it generated, and when it
  is admitted again its prompt and those tokens are prefilled anew.
- **Time per prefill**: compute-bound, ``2 x 32.8e9 x tokens`` FLOPs at 40% of 4 x 989 TFLOP/s
  (H100 SXM dense bf16).
- **Time per decode step** (every running request gets one token): a memory-bound roofline,
  ``eta * (weights + KV bytes of every running context) / (4 x 3.35 TB/s)`` (H100 SXM HBM3
  bandwidth), with the inefficiency ``eta`` = 6.1 calibrated so that the same formula gives the
  published median time per output token of Llama 3.1 70B (141 GB, 320 KiB/token) on 4 x H100
  at 256 concurrent requests of about 1k context: 103 ms (vLLM 0.6.0, one scheduler step;
  Lambda Labs, "LLMs inference benchmarks, using vLLM, on Lambda Cloud",
  github.com/LambdaLabsML/vllm-benchmark, benchmark_v0.md: 2291 output tokens/s, TPOT 102.99 ms;
  61.1 ms and 3543 tokens/s with 10 scheduler steps). Prefill is counted as the prompt's tokens
  read once (prompts are a few hundred tokens against responses of thousands).
- **Response lengths.** Long-CoT: log-normal with median 4,000 tokens and sigma 0.8, cut at the
  recipe's ``max_new_tokens`` (a cut one finishes with ``"length"``), drawn from each request's
  seed, so a redone chunk gives the same sample.

Text: a sample reads ``<think>`` + filler of about 3.5 characters per simulated token +
``</think>`` and a boxed answer, right with probability ``accuracy`` (the answer to the
synthetic math prompt's ``a + b`` or ``a * b - c`` question), so verification and cleaning
run on samples of realistic size.

Faults, for the bench's scenarios: ``hang_once`` (a marker file: the first replica to reach
``hang_at_s`` simulated seconds stops stepping for good, holding its requests), ``workers``
(tensor-parallel ranks: the replica starts an "engine core" child process that starts
``workers - 1`` grandchildren holding ``worker_mb`` MB each, as vLLM's do), and ``stats`` (a
folder where each replica writes its pid, node and simulated clock).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from redstar import hookimpl
from redstar.interfaces import Completion, Sampler
from redstar.samplers.interrupted import SamplingInterrupted
from redstar.samplers.vllm_loop import EngineLoop, Interrupted

# -- the model (see the module docstring) ------------------------------------------------
H100_BANDWIDTH = 3.35e12  # bytes/s, HBM3, H100 SXM
GPU_BYTES = 80e9
ACTIVATION_BYTES = 4e9  # per GPU: activations, CUDA graphs, NCCL buffers
QWQ_WEIGHTS = 32.8e9 * 2
QWQ_KV_PER_TOKEN = 64 * 8 * 128 * 2 * 2
ETA = 6.1  # calibrated on Lambda's Llama 3.1 70B TP4 point (module docstring)
H100_FLOPS = 989e12  # dense bf16, H100 SXM
PREFILL_MFU = 0.4
CHARS_PER_TOKEN = 3.5
PROMPT_TOKENS = 300


def kv_capacity(tp: int, utilization: float) -> float:
    """Tokens of KV cache a replica of ``tp`` GPUs holds."""
    return (tp * GPU_BYTES * utilization - QWQ_WEIGHTS - tp * ACTIVATION_BYTES) / QWQ_KV_PER_TOKEN


def step_seconds(tp: int, context_tokens: float) -> float:
    """Simulated seconds of one decode step with ``context_tokens`` of KV read in all."""
    return ETA * (QWQ_WEIGHTS + context_tokens * QWQ_KV_PER_TOKEN) / (tp * H100_BANDWIDTH)


def prefill_seconds(tp: int, tokens: float) -> float:
    """Simulated seconds to prefill ``tokens`` (compute-bound)."""
    return 2 * 32.8e9 * tokens / (tp * H100_FLOPS * PREFILL_MFU)


def response_tokens(seed: int, cap: int) -> int:
    draw = random.Random(seed).lognormvariate(math.log(4000), 0.8)
    return max(16, min(cap, int(draw)))


class _Request:
    __slots__ = ("done", "length", "request_id", "seed", "target", "params", "prompt")

    def __init__(self, request_id: str, prompt: Any, params: Any) -> None:
        self.request_id, self.prompt, self.params = request_id, prompt, params
        self.seed = params["seed"]
        self.target = response_tokens(self.seed, params["max_tokens"])
        self.done = 0


class SimulatedEngine:
    """The engine :class:`EngineLoop` steps: continuous batching under the memory model, time
    under the latency model, ``tokens_per_step`` decode steps at a time (one loop iteration)."""

    def __init__(self, tp: int, utilization: float, max_num_seqs: int, speedup: float,
                 tokens_per_step: int = 32) -> None:
        self.tp, self.capacity, self.max_num_seqs = tp, kv_capacity(tp, utilization), max_num_seqs
        self.speedup, self.k = speedup, tokens_per_step
        self.waiting: list[_Request] = []
        self.running: list[_Request] = []
        self.clock = 0.0  # simulated seconds
        self.tokens = self.steps = self.preempted = 0
        self.batch_sum = 0
        self.stalled = threading.Event()
        self.lock = threading.Lock()

    def add_request(self, request_id: str, prompt: Any, params: Any) -> str:
        with self.lock:
            self.waiting.append(_Request(request_id, prompt, params))
        return request_id

    def abort_request(self, request_ids: list[str], internal: bool = False) -> None:
        with self.lock:
            gone = set(request_ids)
            self.waiting = [r for r in self.waiting if r.request_id not in gone]
            self.running = [r for r in self.running if r.request_id not in gone]

    def has_unfinished_requests(self) -> bool:
        return bool(self.waiting or self.running)

    def _used(self) -> float:
        return sum(PROMPT_TOKENS + r.done for r in self.running)

    def step(self) -> list[Any]:
        with self.lock:
            prefill = 0.0
            while self.waiting and len(self.running) < self.max_num_seqs and \
                    self._used() + PROMPT_TOKENS + self.waiting[0].done + self.k <= self.capacity:
                admitted = self.waiting.pop(0)
                prefill += PROMPT_TOKENS + admitted.done  # a preempted one's tokens are prefilled anew
                self.running.append(admitted)
            while self.running and self._used() + len(self.running) * self.k > self.capacity:
                victim = self.running.pop()  # the newest, back to the front of the queue
                self.waiting.insert(0, victim)
                self.preempted += 1
            context = self._used()
            seconds = self.k * step_seconds(self.tp, context + len(self.running) * self.k / 2)
            seconds += prefill_seconds(self.tp, prefill)
            finished = []
            generated = 0
            for r in self.running:
                grown = min(r.target, r.done + self.k)
                generated += grown - r.done
                r.done = grown
            for r in [r for r in self.running if r.done >= r.target]:
                self.running.remove(r)
                finished.append(r)
            self.clock += seconds
            self.tokens += generated
            self.steps += self.k
            self.batch_sum += self.k * (len(self.running) + len(finished))
        time.sleep(seconds / self.speedup)
        return [self._output(r) for r in finished]

    def _output(self, r: _Request) -> Any:
        from types import SimpleNamespace

        length = "length" if r.target >= r.params["max_tokens"] else "stop"
        choice = SimpleNamespace(index=0, text=r.params["text"](r), token_ids=[], finish_reason=length)
        return SimpleNamespace(request_id=r.request_id, finished=True, outputs=[choice])


class SimulatedVLLM(Sampler):
    """A simulated vLLM replica (see the module docstring).

    Args:
        tensor_parallel_size: GPUs the simulated model is split over.
        gpu_memory_utilization: Share of each simulated GPU's memory for weights and KV cache.
        max_num_seqs: Requests the simulated engine runs at once.
        speedup: How many times faster than the wall clock the simulated clock runs.
        accuracy: Probability that a sample's boxed answer is right.
        hang_once: Marker file: the first replica past ``hang_at_s`` stops stepping for good.
        hang_at_s: Simulated seconds after which that replica hangs.
        workers: Tensor-parallel processes started beside the replica (0: none).
        worker_mb: Megabytes each of those processes holds.
        stats: Folder for each replica's pid, node and simulated clock.
    """

    name = "simvllm"
    concurrent_calls = True

    def __init__(self, model: str, tensor_parallel_size: int = 4, gpu_memory_utilization: float = 0.9,
                 max_num_seqs: int = 256, speedup: float = 50.0, accuracy: float = 0.6, hang_once: str | None = None,
                 hang_at_s: float = 0.0, workers: int = 0, worker_mb: int = 32, stats: str | None = None) -> None:
        super().__init__(model)
        self.engine = SimulatedEngine(tensor_parallel_size, gpu_memory_utilization, max_num_seqs, speedup)
        self.accuracy, self.hang_once, self.hang_at_s = accuracy, hang_once, hang_at_s
        self.stats = Path(stats) if stats else None
        self.on_step: Any = None
        self._engine_core = self._start_workers(workers, worker_mb) if workers else None
        self._loop = EngineLoop(self.engine, on_step=self._stepped)
        self._write_stats()

    def _start_workers(self, workers: int, worker_mb: int) -> subprocess.Popen[bytes]:
        """An "engine core" child that starts ``workers - 1`` tensor-parallel grandchildren,
        each holding ``worker_mb`` MB (vLLM's processes hold the GPU memory)."""
        hold = f"import time; block = bytearray({worker_mb} << 20); time.sleep(10**6)"
        core = (f"import subprocess, sys, time; procs = [subprocess.Popen([sys.executable, '-c', {hold!r}]) "
                f"for _ in range({workers - 1})]; print(' '.join(str(p.pid) for p in procs), flush=True); "
                f"time.sleep(10**6)")
        process = subprocess.Popen([sys.executable, "-c", core], stdout=subprocess.PIPE)
        line = process.stdout.readline().decode().split() if process.stdout else []
        self._tp_pids = [process.pid, *map(int, line)]
        return process

    def _stepped(self) -> None:
        if self.hang_once and self.engine.clock >= self.hang_at_s and _first(self.hang_once):
            self._write_stats(hung=True)
            time.sleep(10**6)  # stuck, as a replica in a dead NCCL collective is
        if self.on_step is not None:
            self.on_step()
        if self.engine.steps % 2048 < self.engine.k:
            self._write_stats()

    def _write_stats(self, hung: bool = False) -> None:
        if self.stats is None:
            return
        node = ""
        try:
            import ray

            node = ray.get_runtime_context().get_node_id()
        except Exception:  # noqa: BLE001 - outside Ray: no node
            pass
        e = self.engine
        record = {"pid": os.getpid(), "node": node, "tp_pids": getattr(self, "_tp_pids", []), "hung": hung,
                  "clock_s": e.clock, "tokens": e.tokens, "steps": e.steps, "preempted": e.preempted,
                  "mean_batch": e.batch_sum / e.steps if e.steps else 0.0, "kv_capacity_tokens": e.capacity}
        self.stats.mkdir(parents=True, exist_ok=True)
        (self.stats / f"{os.getpid()}.json").write_text(json.dumps(record))

    def generate(self, conversations: Any, params: Any) -> list[list[Completion]]:
        prompts, kwargs = [], []
        for c, conversation in enumerate(conversations):
            question = conversation[-1]["content"]
            for k in range(params.n):
                seed = params.seeds[c][k] if params.seeds is not None else (params.seed or 0) + k
                kwargs.append({"seed": seed, "max_tokens": params.max_new_tokens,
                               "text": lambda r, q=question: _text(q, r.seed, r.target, self.accuracy)})
                prompts.append(question)
        finished = [0]

        def arrived(_position: int, _output: Any) -> None:
            finished[0] += 1
            if self.on_progress is not None:
                self.on_progress(finished[0], len(prompts))

        try:
            outputs = self._loop.run(prompts, kwargs, arrived)
        except Interrupted as stop:
            rows: list[list[Completion | None]] = [[None] * params.n for _ in conversations]
            for position, out in enumerate(stop.outputs):
                if out is not None:
                    rows[position // params.n][position % params.n] = _completion(out)
            raise SamplingInterrupted(rows) from None
        flat = [_completion(out) for out in outputs]
        return [flat[c * params.n:(c + 1) * params.n] for c in range(len(conversations))]

    def close(self) -> None:
        self._loop.close()
        self._write_stats()
        if self._engine_core is not None:
            self._engine_core.kill()  # a clean close ends its processes (vLLM's shutdown does)


def _completion(output: Any) -> Completion:
    choice = output.outputs[0]
    return Completion(choice.text, choice.finish_reason)


def _first(marker: str) -> bool:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def worked_answer(question: str) -> int | None:
    """The answer to a synthetic-math word problem ("X has N things. First, she doubles them.
    Second, he gives away K. ..."), or None for another question."""
    start = re.search(r"has (\d+) ", question)
    if start is None:
        return None
    value = int(start.group(1))
    for step in re.findall(r"(doubles them|(?:buys|finds|gets) \d+ more|(?:gives away|loses|sells) \d+)", question):
        number = int(re.findall(r"\d+", step)[0]) if re.search(r"\d", step) else 0
        value = value * 2 if step.startswith("doubles") else value + number if step.endswith("more") else value - number
    return value


_VOCABULARY = ("first then count the total each step apples books cards coins marbles pencils shells stickers "
               "more fewer doubles gives away sells buys finds gets loses check again because so we have add "
               "subtract multiply result number left now wait verify answer consider case next after before")
WORDS = _VOCABULARY.split(" ")
#: Reasoning-like filler without repeated n-grams (the repetition filter keeps it): random words,
#: made once; a sample takes a slice at an offset drawn from its seed.
_WORDS_DRAW = random.Random(7)
FILLER = " ".join(_WORDS_DRAW.choice(WORDS) for _ in range(120_000))


def _text(question: str, seed: int, tokens: int, accuracy: float) -> str:
    draw = random.Random(seed ^ 0x5EED)
    right = worked_answer(question)
    answer = right if right is not None and draw.random() < accuracy else draw.randint(-99, 999)
    length = min(int(tokens * CHARS_PER_TOKEN), len(FILLER) // 2)
    start = draw.randrange(len(FILLER) - length)
    return f"<think>\n{FILLER[start:start + length]}\n</think>\n\nThe answer is \\boxed{{{answer}}}."


class SimulatedVLLMSerial(SimulatedVLLM):
    """:class:`SimulatedVLLM` taking one call at a time: each chunk drains the engine before the
    next starts, as ``LLM.generate`` per chunk did (for the feeding comparison)."""

    name = "simvllm-serial"
    concurrent_calls = False


@hookimpl
def redstar_register_samplers(register: Any) -> None:
    register(SimulatedVLLM)
    register(SimulatedVLLMSerial)
