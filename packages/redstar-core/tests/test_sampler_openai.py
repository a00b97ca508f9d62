"""The ``openai`` sampler against a real HTTP server on 127.0.0.1 that each test scripts: the
request it sends, and how it copes with timeouts, 5xx, 429, malformed bodies and servers that
ignore ``n``."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from redstar.errors import InputError, RedStarError
from redstar.interfaces import SamplingParams, options_of
from redstar.samplers.openai_server import (
    BadResponse,
    OpenAISampler,
    ServerError,
    chat_completions_url,
    completions_from_response,
)
from redstar.samplers.retry import backoff_delay, parse_retry_after

Reply = tuple[int, dict[str, str], bytes]


def completion_body(body: dict[str, Any], choices: int | None = None, finish_reason: str = "stop") -> bytes:
    """A chat completion whose choice ``i`` reads ``<last user message>|seed=<seed>|<i>``, so a
    test can tell which request and which choice each completion came from."""
    question = body["messages"][-1]["content"]
    count = body.get("n", 1) if choices is None else choices
    return json.dumps({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": body["model"],
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": f"{question}|seed={body.get('seed')}|{i}"},
             "finish_reason": finish_reason}
            for i in range(count)
        ],
    }).encode()


def answer(body: dict[str, Any]) -> Reply:
    return 200, {"Content-Type": "application/json"}, completion_body(body)


def answer_one(body: dict[str, Any]) -> Reply:
    """A server that ignores ``n`` and always returns a single choice."""
    return 200, {"Content-Type": "application/json"}, completion_body(body, choices=1)


def fail(status: int, headers: dict[str, str] | None = None, text: str = "") -> Callable[[dict], Reply]:
    return lambda body: (status, headers or {}, (text or f"error {status}").encode())


def raw(payload: bytes) -> Callable[[dict], Reply]:
    return lambda body: (200, {"Content-Type": "application/json"}, payload)


def stall(seconds: float) -> Callable[[dict], Reply]:
    def reply(body: dict[str, Any]) -> Reply:
        time.sleep(seconds)
        return answer(body)

    return reply


class ChatServer:
    """Answers POSTs with the scripted replies in order, then with ``default``; records every
    request's path, headers and JSON body."""

    def __init__(self) -> None:
        self.script: list[Callable[[dict], Reply]] = []
        self.default: Callable[[dict], Reply] = answer
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's method name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    reply = server.script.pop(0) if server.script else server.default
                status, headers, payload = reply(body)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll interval keeps shutdown (once per test) quick.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ChatServer]:
    chat = ChatServer()
    yield chat
    chat.close()


class Recorder:
    """Stands in for ``time.sleep`` so that retries are observed rather than waited for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_sampler(url: str, **options: Any) -> tuple[OpenAISampler, Recorder]:
    sampler = OpenAISampler(model="teacher", base_url=url, **options)
    sleeps = Recorder()
    sampler._sleep = sleeps
    return sampler, sleeps


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# -- protocol --------------------------------------------------------------------------------
def test_sends_the_chat_request_and_keeps_order(server: ChatServer) -> None:
    sampler, _ = make_sampler(server.url, api_key="secret", concurrency=4)
    params = SamplingParams(n=3, temperature=0.6, top_p=0.95, max_new_tokens=64, seed=7, stop=["</answer>"])
    progress: list[tuple[int, int]] = []
    sampler.on_progress = lambda done, total: progress.append((done, total))

    result = sampler.generate([ask("first"), ask("second")], params)

    assert [[c.text for c in row] for row in result] == [
        [f"first|seed=7|{i}" for i in range(3)],
        [f"second|seed=7|{i}" for i in range(3)],
    ]
    assert all(c.finish_reason == "stop" for row in result for c in row)
    assert len(server.requests) == 2
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer secret"
    body = request["body"]
    assert body["model"] == "teacher"
    assert body["messages"] in (ask("first"), ask("second"))
    assert {k: body[k] for k in ("n", "temperature", "top_p", "max_tokens", "seed", "stop")} == {
        "n": 3, "temperature": 0.6, "top_p": 0.95, "max_tokens": 64, "seed": 7, "stop": ["</answer>"],
    }
    assert progress[-1] == (6, 6)
    sampler.close()


def test_api_key_comes_from_the_environment(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PROVIDER_KEY", "from-env")
    sampler, _ = make_sampler(server.url, api_key_env="MY_PROVIDER_KEY")
    sampler.generate([ask("q")], SamplingParams(n=1))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    default, _ = make_sampler(server.url)
    default.generate([ask("q")], SamplingParams(n=1))
    assert [r["headers"]["Authorization"] for r in server.requests] == ["Bearer from-env", "Bearer EMPTY"]
    assert "seed" not in server.requests[0]["body"] and "stop" not in server.requests[0]["body"]


def test_length_finish_reason_is_reported(server: ChatServer) -> None:
    server.default = lambda body: (200, {}, completion_body(body, finish_reason="length"))
    sampler, _ = make_sampler(server.url)
    [[completion]] = sampler.generate([ask("q")], SamplingParams(n=1))
    assert completion.finish_reason == "length"


def test_server_that_ignores_n_is_asked_again_with_new_seeds(server: ChatServer) -> None:
    server.default = answer_one
    sampler, _ = make_sampler(server.url, concurrency=3)
    [row] = sampler.generate([ask("q")], SamplingParams(n=4, seed=10))
    # One choice per request: slots 1..3 are asked for again, each with its own seed, so the
    # four samples are not four copies of one.
    assert [c.text for c in row] == ["q|seed=10|0", "q|seed=11|0", "q|seed=12|0", "q|seed=13|0"]
    assert sorted(r["body"]["seed"] for r in server.requests) == [10, 11, 12, 13]


def test_server_that_caps_n_gets_the_rest_in_pieces_of_its_size(server: ChatServer) -> None:
    server.default = lambda body: (200, {}, completion_body(body, choices=min(body["n"], 2)))
    sampler, _ = make_sampler(server.url)
    [row] = sampler.generate([ask("q")], SamplingParams(n=5, seed=0))
    assert [c.text for c in row] == ["q|seed=0|0", "q|seed=0|1", "q|seed=2|0", "q|seed=2|1", "q|seed=4|0"]
    assert sorted((r["body"]["seed"], r["body"]["n"]) for r in server.requests) == [(0, 5), (2, 2), (4, 1)]


def test_max_n_per_request_splits_n(server: ChatServer) -> None:
    sampler, _ = make_sampler(server.url, max_n_per_request=2)
    [row] = sampler.generate([ask("q")], SamplingParams(n=5, seed=100))
    assert len(row) == 5
    assert sorted(r["body"]["n"] for r in server.requests) == [1, 2, 2]
    assert sorted(r["body"]["seed"] for r in server.requests) == [100, 102, 104]


def test_per_completion_seeds_go_one_per_request(server: ChatServer) -> None:
    sampler, _ = make_sampler(server.url, concurrency=3)
    params = SamplingParams(n=2, seed=1, seeds=((50, 9), (7, 2**63 - 1)))
    rows = sampler.generate([ask("a"), ask("b")], params)
    # Each completion is drawn under its own seed, whatever else the call holds.
    assert [[c.text for c in row] for row in rows] == [["a|seed=50|0", "a|seed=9|0"],
                                                         ["b|seed=7|0", f"b|seed={2**63 - 1}|0"]]
    assert sorted((r["body"]["seed"], r["body"]["n"]) for r in server.requests) == [
        (7, 1), (9, 1), (50, 1), (2**63 - 1, 1)]


def test_extra_body_is_merged_into_every_request(server: ChatServer) -> None:
    sampler, _ = make_sampler(server.url, extra_body={"top_k": 20, "skip_special_tokens": False})
    sampler.generate([ask("q")], SamplingParams(n=1))
    assert server.requests[0]["body"]["top_k"] == 20
    assert server.requests[0]["body"]["skip_special_tokens"] is False


def test_image_parts_travel_as_data_urls(server: ChatServer, tmp_path: Any) -> None:
    image = tmp_path / "diagram.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nnot-really")
    sampler, _ = make_sampler(server.url)
    conversation = [{"role": "user", "content": [{"type": "image", "path": str(image)}, {"type": "text", "text": "Angle?"}]}]
    server.default = lambda body: (200, {}, json.dumps(
        {"choices": [{"index": 0, "message": {"content": "B"}, "finish_reason": "stop"}]}).encode())
    sampler.generate([conversation], SamplingParams(n=1))
    parts = server.requests[0]["body"]["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgpub3QtcmVhbGx5"}}
    assert parts[1] == {"type": "text", "text": "Angle?"}


def test_missing_image_names_the_file(server: ChatServer, tmp_path: Any) -> None:
    sampler, _ = make_sampler(server.url)
    missing = tmp_path / "gone.png"
    with pytest.raises(InputError) as caught:
        sampler.generate([[{"role": "user", "content": [{"type": "image", "path": str(missing)}]}]], SamplingParams())
    assert caught.value.path == str(missing) and caught.value.field == "image"
    assert server.requests == []


# -- failures and retries ----------------------------------------------------------------------
def test_5xx_then_success_retries_with_backoff(server: ChatServer) -> None:
    server.script = [fail(503), fail(500)]
    sampler, sleeps = make_sampler(server.url, backoff=1.0, max_backoff=60.0)
    [[completion]] = sampler.generate([ask("q")], SamplingParams(n=1, seed=1))
    assert completion.text == "q|seed=1|0"
    assert len(server.requests) == 3
    # Equal jitter: attempt k waits between half and all of 2**k seconds.
    assert len(sleeps.waits) == 2
    assert 0.5 <= sleeps.waits[0] <= 1.0 and 1.0 <= sleeps.waits[1] <= 2.0


def test_429_waits_as_long_as_retry_after_says(server: ChatServer) -> None:
    server.script = [fail(429, {"Retry-After": "7"})]
    sampler, sleeps = make_sampler(server.url)
    [[completion]] = sampler.generate([ask("q")], SamplingParams(n=1))
    assert completion.text.startswith("q|")
    assert sleeps.waits == [7.0]


def test_timeout_is_retried(server: ChatServer) -> None:
    server.script = [stall(1.5)]
    sampler, sleeps = make_sampler(server.url, timeout=0.3)
    [[completion]] = sampler.generate([ask("slow")], SamplingParams(n=1))
    assert completion.text.startswith("slow|")
    assert len(server.requests) == 2 and len(sleeps.waits) == 1


def test_malformed_json_fails_after_retries_naming_url_and_problem(server: ChatServer) -> None:
    server.default = raw(b"<html>gateway hiccup</html>")
    sampler, sleeps = make_sampler(server.url, max_retries=2)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    message = str(caught.value)
    assert f"{server.url}/chat/completions" in message
    assert "after 3 attempt(s)" in message and "not JSON" in message and "gateway hiccup" in message
    assert len(server.requests) == 3 and len(sleeps.waits) == 2


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"object": "chat.completion"}, "'choices'"),
        ({"choices": []}, "'choices'"),
        ({"choices": [{"index": 0, "finish_reason": "stop"}]}, "'message'"),
        ({"choices": [{"index": 0, "message": {"role": "assistant"}}]}, "'content'"),
        ({"error": {"message": "engine dead"}}, "engine dead"),
    ],
)
def test_missing_fields_fail_naming_the_field(server: ChatServer, payload: dict, named: str) -> None:
    server.default = raw(json.dumps(payload).encode())
    sampler, _ = make_sampler(server.url, max_retries=1)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    assert named in str(caught.value) and "after 2 attempt(s)" in str(caught.value)


def test_client_errors_are_not_retried(server: ChatServer) -> None:
    server.default = fail(400, text='{"message": "This model\'s maximum context length is 4096 tokens"}')
    sampler, sleeps = make_sampler(server.url)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    assert "HTTP 400" in str(caught.value) and "maximum context length" in str(caught.value)
    assert len(server.requests) == 1 and sleeps.waits == []


def test_connection_refused_fails_after_retries() -> None:
    closed = ChatServer()
    url = closed.url
    closed.close()  # nothing listens on that port any more
    sampler, sleeps = make_sampler(url, max_retries=1)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    assert "ConnectError" in str(caught.value) and url in str(caught.value)
    assert len(sleeps.waits) == 1


# -- pure parts ------------------------------------------------------------------------------
def test_reasoning_content_is_put_back_between_think_tags() -> None:
    data = {"choices": [
        {"index": 1, "message": {"content": "\n\nSo 19.", "reasoning_content": "\n12+7=19\n"}, "finish_reason": "length"},
        {"index": 0, "message": {"content": None}, "finish_reason": "content_filter"},
    ]}
    first, second = completions_from_response(data)
    assert (first.text, first.finish_reason) == ("", "content_filter")
    assert (second.text, second.finish_reason) == ("<think>\n12+7=19\n</think>\n\nSo 19.", "length")
    assert completions_from_response(data, merge_reasoning=False)[1].text == "\n\nSo 19."
    with pytest.raises(BadResponse, match="not a string"):
        completions_from_response({"choices": [{"message": {"content": 3}}]})


def test_chat_completions_url() -> None:
    assert chat_completions_url("http://h:8000/v1") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("https://api.example.com/v1/chat/completions") == \
        "https://api.example.com/v1/chat/completions"
    with pytest.raises(RedStarError, match="base_url"):
        chat_completions_url("localhost:8000")


def test_retry_after_and_backoff() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    rng = random.Random(0)
    assert backoff_delay(0, 1.0, 60.0, rng, retry_after=500.0) == 60.0
    delays = [backoff_delay(10, 1.0, 8.0, rng) for _ in range(50)]
    assert all(4.0 <= d <= 8.0 for d in delays) and len(set(delays)) > 1


def test_bad_options_are_reported_by_name() -> None:
    with pytest.raises(RedStarError, match="'concurrency'"):
        OpenAISampler(model="m", concurrency=0)
    with pytest.raises(RedStarError, match="'max_n_per_request'"):
        OpenAISampler(model="m", max_n_per_request=0)
    assert {"base_url", "api_key", "concurrency", "timeout", "max_retries"} <= set(options_of(OpenAISampler))


def test_registered_as_builtin(redstar_host: Any) -> None:
    assert redstar_host.registry.get("samplers", "openai") is OpenAISampler
