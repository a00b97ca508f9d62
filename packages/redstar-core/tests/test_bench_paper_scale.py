"""tools/bench/sim_vllm.py, the stand-in engine of the simulated paper-scale run
(tools/bench/paper_scale_sim.py): its latency model reproduces the published point it is
calibrated on, it runs RedStar's real engine loop, and a sample depends on its seed alone (a
redone chunk gives the same text). Speed is the bench's to measure, never asserted here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "tools" / "bench"
sys.path.insert(0, str(BENCH))

import sim_vllm  # noqa: E402

from redstar.interfaces import SamplingParams  # noqa: E402


def test_the_latency_model_gives_the_published_70b_point_and_a_32b_replica_s_memory():
    # Lambda's Llama 3.1 70B, TP 4 on H100, vLLM 0.6.0: median TPOT 102.99 ms at 256 requests
    llama70 = sim_vllm.ETA * (141e9 + 256 * 1024 * 80 * 8 * 128 * 2 * 2) / (4 * sim_vllm.H100_BANDWIDTH)
    assert llama70 == pytest.approx(0.103, rel=0.01)
    assert 780_000 < sim_vllm.kv_capacity(4, 0.9) < 800_000  # tokens of QwQ-32B KV cache on 4 x 80 GB
    assert sim_vllm.step_seconds(4, 256 * 3000) > sim_vllm.step_seconds(4, 0)


def test_a_sample_depends_on_its_seed_alone_and_long_ones_are_cut(tmp_path):
    sampler = sim_vllm.SimulatedVLLM("qwq", speedup=1e6, stats=str(tmp_path))
    try:
        question = "Ivy has 8 marbles. First, she doubles them. Second, she gets 3 more. How many marbles?"
        params = SamplingParams(n=3, max_new_tokens=16384, seeds=((11, 12, 13), (14, 15, 16)))
        together = sampler.generate([[{"role": "user", "content": question}]] * 2, params)
        alone = sampler.generate([[{"role": "user", "content": question}]],
                                 SamplingParams(n=3, max_new_tokens=16384, seeds=((14, 15, 16),)))
        assert [[c.text for c in row] for row in alone] == [[c.text for c in together[1]]]
        assert len({c.text for row in together for c in row}) == 6
        assert all(c.text.startswith("<think>\n") and "\\boxed{" in c.text for row in together for c in row)
        assert sim_vllm.worked_answer(question) == 19
        cut = sampler.generate([[{"role": "user", "content": question}]], SamplingParams(n=8, max_new_tokens=64,
                                                                                         seeds=(tuple(range(8)),)))
        assert {c.finish_reason for c in cut[0]} == {"length"}
    finally:
        sampler.close()
    assert list(tmp_path.glob("*.json"))  # the replica's simulated clock, for the bench
