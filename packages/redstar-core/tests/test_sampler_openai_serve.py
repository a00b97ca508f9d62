"""The ``openai`` sampler against a real OpenAI-compatible server: ``transformers serve`` on
127.0.0.1 with the embedded tiny teacher, started once for this module (about 10 s on a
2-core CPU). Skipped, saying why, when ``transformers[serving]`` (fastapi, uvicorn) is not
installed or the server does not come up in time.

What it pins down is how this server behaves (checked with transformers 5.24): it ignores
``n``, decodes greedily unless the request's ``generation_config`` says ``do_sample``, refuses
fields it does not know with HTTP 422, splits the reasoning into ``reasoning_content``, and
seeds each request with its ``seed``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redstar.interfaces import SamplingParams
from redstar.models import resolve_model
from redstar.samplers.diversity import IdenticalSamplesError
from redstar.samplers.openai_server import OpenAISampler, ServerError
from redstar.samplers.transformers_local import TransformersSampler

#: starts a real `transformers serve`: `pytest -m 'not slow'` leaves it out of a quick loop (CI runs everything).
pytestmark = pytest.mark.slow

#: Seconds the server may take to answer its health check (it loads the model first).
START_TIMEOUT = 120
#: What makes ``transformers serve`` sample; without it every sample is the greedy answer.
DO_SAMPLE = {"generation_config": json.dumps({"do_sample": True})}
#: The tiny teacher's format: reasoning, then the answer.
REASONED = re.compile(r"<think>\n.+\n</think>\n\n\S.*", re.S)

#: Asked as the pipeline asks the teacher (the math source's wording, the math verifier's
#: instruction): off its format the tiny teacher may close ``</think>`` twice or at once, which
#: is not what these tests are about.
QUESTIONS = [
    "Zoe has 3 apples. First, she doubles them. How many apples does Zoe have now?",
    "Leo has 6 coins. First, he gets 4 more. Second, he gets 7 more. How many coins does Leo have now?",
    "Mia has 23 books. First, she doubles them. Second, she sells 28. How many books does Mia have now?",
]
INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``(base_url, model)`` of a running ``transformers serve`` with the tiny teacher."""
    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"transformers serve needs {', '.join(missing)}: pip install 'transformers[serving]'")
    model = str(resolve_model("embedded:tiny-teacher"))
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    # Offline and without the CLI's update check: tests never touch the network.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", "from transformers.cli.transformers import main; main()", "serve", model,
               "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.skip(f"transformers serve exited with {process.returncode}: {tail(log)}")
            if time.monotonic() > deadline:
                pytest.skip(f"transformers serve did not answer /health within {START_TIMEOUT} s: {tail(log)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", model
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-600:] if log.exists() else "(no log)"


def ask(question: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"{question}\n{INSTRUCTION}"}]


def test_greedy_by_default_is_caught_naming_the_fix(serve: tuple[str, str]) -> None:
    url, model = serve
    sampler = OpenAISampler(model=model, base_url=url)
    seeds = tuple((10 * i, 10 * i + 1) for i in range(len(QUESTIONS)))
    with pytest.raises(IdenticalSamplesError) as caught:
        sampler.generate([ask(q) for q in QUESTIONS],
                         SamplingParams(n=2, temperature=1.0, max_new_tokens=96, seeds=seeds))
    message = str(caught.value)
    assert url in message and "transformers serve" in message and "do_sample" in message


def test_the_same_text_as_the_local_backend(serve: tuple[str, str]) -> None:
    # Greedy decoding is deterministic on both sides: the server splits the reasoning from the
    # answer, RedStar joins them again, and the result is what the model wrote.
    url, model = serve
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=160)
    served = OpenAISampler(model=model, base_url=url).generate([ask(q) for q in QUESTIONS], params)
    local_sampler = TransformersSampler(model, device="cpu")
    try:
        local = local_sampler.generate([ask(q) for q in QUESTIONS], params)
    finally:
        local_sampler.close()
    assert [[(c.text, c.finish_reason) for c in row] for row in served] == \
        [[(c.text, c.finish_reason) for c in row] for row in local]
    assert all(REASONED.fullmatch(row[0].text) for row in served), served


def test_do_sample_gives_n_different_samples(serve: tuple[str, str]) -> None:
    url, model = serve
    sampler = OpenAISampler(model=model, base_url=url, extra_body=DO_SAMPLE)
    # No per-completion seeds: one request asks n=3, the server ignores `n` and answers one,
    # and RedStar asks again for the others.
    rows = sampler.generate([ask(q) for q in QUESTIONS],
                            SamplingParams(n=3, temperature=1.0, max_new_tokens=96, seed=3))
    assert [len(row) for row in rows] == [3, 3, 3]
    assert any(len({c.text for c in row}) > 1 for row in rows)


def test_seeds_are_honoured_one_request_at_a_time(serve: tuple[str, str]) -> None:
    # The server seeds torch's global generator per request: with several requests in flight
    # their draws interleave, so only `concurrency: 1` reproduces a seeded sample.
    url, model = serve
    sampler = OpenAISampler(model=model, base_url=url, extra_body=DO_SAMPLE, concurrency=1)
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=48, seeds=((5, 6),))
    first = [c.text for c in sampler.generate([ask(QUESTIONS[0])], params)[0]]
    again = [c.text for c in sampler.generate([ask(QUESTIONS[0])], params)[0]]
    assert first == again


def test_a_reply_cut_while_reasoning_gets_no_closing_tag(serve: tuple[str, str]) -> None:
    url, model = serve
    sampler = OpenAISampler(model=model, base_url=url, extra_body=DO_SAMPLE)
    [[cut]] = sampler.generate([ask(QUESTIONS[0])], SamplingParams(n=1, max_new_tokens=12, seed=0))
    assert cut.finish_reason == "length"
    assert cut.text.startswith("<think>\n") and "</think>" not in cut.text


def test_vllm_only_fields_are_refused_with_advice(serve: tuple[str, str]) -> None:
    url, model = serve
    sampler = OpenAISampler(model=model, base_url=url, extra_body={"skip_special_tokens": False})
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask(QUESTIONS[0])], SamplingParams(n=1, max_new_tokens=8))
    message = str(caught.value)
    assert "HTTP 422" in message and "skip_special_tokens" in message and "extra_body" in message
