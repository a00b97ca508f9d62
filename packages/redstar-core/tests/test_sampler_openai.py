"""The ``openai`` sampler against a real HTTP server on 127.0.0.1 that each test scripts: the
request it sends, and how it copes with timeouts, 5xx, 429, malformed bodies, servers that
ignore ``n`` or return copies instead of samples, reasoning split from the answer, and Ctrl-C
while requests are in flight."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from redstar.errors import InputError, RedStarError
from redstar.interfaces import SamplingParams, options_of
from redstar.samplers.diversity import IdenticalSamplesError
from redstar.samplers.interrupted import SamplingInterrupted
from redstar.samplers.openai_server import (
    BadResponse,
    OpenAISampler,
    ServerError,
    chat_completions_url,
    completions_from_response,
)
from redstar.samplers.text import join_reasoning

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
                    server.requests.append({"path": self.path, "body": body,
                                            # lower-case names: HTTP/1.1 and HTTP/2 clients differ
                                            "headers": {k.lower(): v for k, v in self.headers.items()}})
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


def make_sampler(url: str, **options: Any) -> OpenAISampler:
    return OpenAISampler(model="teacher", base_url=url, **options)


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# -- protocol --------------------------------------------------------------------------------
def test_sends_the_chat_request_and_keeps_order(server: ChatServer) -> None:
    sampler = make_sampler(server.url, api_key="secret", concurrency=4)
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
    assert request["headers"]["authorization"] == "Bearer secret"
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
    sampler = make_sampler(server.url, api_key_env="MY_PROVIDER_KEY")
    sampler.generate([ask("q")], SamplingParams(n=1))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    default = make_sampler(server.url)
    default.generate([ask("q")], SamplingParams(n=1))
    assert [r["headers"]["authorization"] for r in server.requests] == ["Bearer from-env", "Bearer EMPTY"]
    assert "seed" not in server.requests[0]["body"] and "stop" not in server.requests[0]["body"]


def test_length_finish_reason_is_reported(server: ChatServer) -> None:
    server.default = lambda body: (200, {}, completion_body(body, finish_reason="length"))
    sampler = make_sampler(server.url)
    [[completion]] = sampler.generate([ask("q")], SamplingParams(n=1))
    assert completion.finish_reason == "length"


def test_server_that_ignores_n_is_asked_again_with_new_seeds(server: ChatServer) -> None:
    server.default = answer_one
    sampler = make_sampler(server.url, concurrency=3)
    [row] = sampler.generate([ask("q")], SamplingParams(n=4, seed=10))
    # One choice per request: slots 1..3 are asked for again, each with its own seed, so the
    # four samples are not four copies of one.
    assert [c.text for c in row] == ["q|seed=10|0", "q|seed=11|0", "q|seed=12|0", "q|seed=13|0"]
    assert sorted(r["body"]["seed"] for r in server.requests) == [10, 11, 12, 13]


def test_server_that_caps_n_gets_the_rest_in_pieces_of_its_size(server: ChatServer) -> None:
    server.default = lambda body: (200, {}, completion_body(body, choices=min(body["n"], 2)))
    sampler = make_sampler(server.url)
    [row] = sampler.generate([ask("q")], SamplingParams(n=5, seed=0))
    assert [c.text for c in row] == ["q|seed=0|0", "q|seed=0|1", "q|seed=2|0", "q|seed=2|1", "q|seed=4|0"]
    assert sorted((r["body"]["seed"], r["body"]["n"]) for r in server.requests) == [(0, 5), (2, 2), (4, 1)]


def test_max_n_per_request_splits_n(server: ChatServer) -> None:
    sampler = make_sampler(server.url, max_n_per_request=2)
    [row] = sampler.generate([ask("q")], SamplingParams(n=5, seed=100))
    assert len(row) == 5
    assert sorted(r["body"]["n"] for r in server.requests) == [1, 2, 2]
    assert sorted(r["body"]["seed"] for r in server.requests) == [100, 102, 104]


def test_per_completion_seeds_go_one_per_request(server: ChatServer) -> None:
    sampler = make_sampler(server.url, concurrency=3)
    params = SamplingParams(n=2, seed=1, seeds=((50, 9), (7, 2**63 - 1)))
    rows = sampler.generate([ask("a"), ask("b")], params)
    # Each completion is drawn under its own seed, whatever else the call holds.
    assert [[c.text for c in row] for row in rows] == [["a|seed=50|0", "a|seed=9|0"],
                                                         ["b|seed=7|0", f"b|seed={2**63 - 1}|0"]]
    assert sorted((r["body"]["seed"], r["body"]["n"]) for r in server.requests) == [
        (7, 1), (9, 1), (50, 1), (2**63 - 1, 1)]


def test_extra_body_is_merged_into_every_request(server: ChatServer) -> None:
    sampler = make_sampler(server.url, extra_body={"top_k": 20, "skip_special_tokens": False})
    sampler.generate([ask("q")], SamplingParams(n=1))
    assert server.requests[0]["body"]["top_k"] == 20
    assert server.requests[0]["body"]["skip_special_tokens"] is False


def test_image_parts_travel_as_data_urls(server: ChatServer, tmp_path: Any) -> None:
    image = tmp_path / "diagram.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nnot-really")
    sampler = make_sampler(server.url)
    conversation = [{"role": "user", "content": [{"type": "image", "path": str(image)}, {"type": "text", "text": "Angle?"}]}]
    server.default = lambda body: (200, {}, json.dumps(
        {"choices": [{"index": 0, "message": {"content": "B"}, "finish_reason": "stop"}]}).encode())
    sampler.generate([conversation], SamplingParams(n=1))
    parts = server.requests[0]["body"]["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgpub3QtcmVhbGx5"}}
    assert parts[1] == {"type": "text", "text": "Angle?"}


def test_missing_image_names_the_file(server: ChatServer, tmp_path: Any) -> None:
    sampler = make_sampler(server.url)
    missing = tmp_path / "gone.png"
    with pytest.raises(InputError) as caught:
        sampler.generate([[{"role": "user", "content": [{"type": "image", "path": str(missing)}]}]], SamplingParams())
    assert caught.value.path == str(missing) and caught.value.field == "image"
    assert server.requests == []


# -- failures and retries (the SDK's; these check RedStar configures it and reports clearly) --
def retry_count(request: dict[str, Any]) -> str:
    """The SDK numbers its tries of one request in this header."""
    return request["headers"].get("x-stainless-retry-count", "?")


def test_5xx_then_success_is_retried(server: ChatServer) -> None:
    # retry-after-ms keeps the SDK's waits short.
    server.script = [fail(503, {"retry-after-ms": "1"}), fail(500, {"retry-after-ms": "1"})]
    sampler = make_sampler(server.url)
    [[completion]] = sampler.generate([ask("q")], SamplingParams(n=1, seed=1))
    assert completion.text == "q|seed=1|0"
    assert [retry_count(r) for r in server.requests] == ["0", "1", "2"]


def test_429_with_a_short_retry_after_is_retried(server: ChatServer) -> None:
    server.script = [fail(429, {"Retry-After": "0.01"})]
    sampler = make_sampler(server.url)
    [[completion]] = sampler.generate([ask("q")], SamplingParams(n=1))
    assert completion.text.startswith("q|")
    assert len(server.requests) == 2


def test_429_asking_to_wait_too_long_fails_at_once_saying_so(server: ChatServer) -> None:
    server.default = fail(429, {"Retry-After": "3600"}, text="slow down")
    sampler = make_sampler(server.url)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    message = str(caught.value)
    assert "HTTP 429" in message and "slow down" in message and "wait 3600 s" in message
    assert len(server.requests) == 1


def test_retries_run_out_naming_url_status_and_attempts(server: ChatServer) -> None:
    server.default = fail(502, {"retry-after-ms": "1"}, text="<html>bad gateway</html>")
    sampler = make_sampler(server.url, max_retries=2)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    message = str(caught.value)
    assert f"{server.url}/chat/completions" in message
    assert "after 3 attempt(s)" in message and "HTTP 502" in message and "bad gateway" in message
    assert len(server.requests) == 3


def test_timeout_is_retried(server: ChatServer) -> None:
    server.script = [stall(1.5)]
    sampler = make_sampler(server.url, timeout=0.3)
    [[completion]] = sampler.generate([ask("slow")], SamplingParams(n=1))
    assert completion.text.startswith("slow|")
    assert [retry_count(r) for r in server.requests] == ["0", "1"]


def test_malformed_json_fails_at_once_naming_url_and_problem(server: ChatServer) -> None:
    server.default = raw(b"<html>a web page</html>")
    sampler = make_sampler(server.url)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    message = str(caught.value)
    assert f"{server.url}/chat/completions" in message
    assert "not a chat completion" in message and "not JSON" in message and "a web page" in message
    # A 200 that is not a chat completion is a wrong base_url or a bug: asking again won't help.
    assert len(server.requests) == 1


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
    sampler = make_sampler(server.url)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    assert named in str(caught.value) and "not a chat completion" in str(caught.value)


def test_client_errors_are_not_retried(server: ChatServer) -> None:
    server.default = fail(400, text='{"message": "This model\'s maximum context length is 4096 tokens"}')
    sampler = make_sampler(server.url)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    assert "HTTP 400" in str(caught.value) and "maximum context length" in str(caught.value)
    assert len(server.requests) == 1


def test_a_refused_field_points_at_extra_body(server: ChatServer) -> None:
    # What `transformers serve` answers to vLLM's skip_special_tokens.
    server.default = fail(422, text="{\"detail\":\"Unexpected fields in the request: {'skip_special_tokens'}\"}")
    sampler = make_sampler(server.url, extra_body={"skip_special_tokens": False})
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    message = str(caught.value)
    assert "HTTP 422" in message and "skip_special_tokens" in message and "extra_body" in message


def test_connection_refused_fails_after_retries() -> None:
    closed = ChatServer()
    url = closed.url
    closed.close()  # nothing listens on that port any more
    sampler = make_sampler(url, max_retries=1)
    with pytest.raises(ServerError) as caught:
        sampler.generate([ask("q")], SamplingParams(n=1))
    message = str(caught.value)
    assert "cannot connect" in message and url in message and "after 2 attempt(s)" in message


# -- samples that are not samples ----------------------------------------------------------
LONG_ANSWER = "<think>\n" + "Twelve plus seven is nineteen. " * 4 + "\n</think>\n\nThe answer is \\boxed{19}."


def test_a_server_returning_copies_at_temperature_1_stops_the_call(server: ChatServer) -> None:
    # A greedy server: the same text whatever the seed, as `transformers serve` without do_sample.
    server.default = lambda body: (200, {}, json.dumps({"choices": [
        {"index": 0, "message": {"content": LONG_ANSWER + body["messages"][-1]["content"]},
         "finish_reason": "stop"}]}).encode())
    sampler = make_sampler(server.url)
    prompts = [ask(f"question {i}") for i in range(3)]
    seeds = tuple((10 * i, 10 * i + 1) for i in range(3))
    with pytest.raises(IdenticalSamplesError) as caught:
        sampler.generate(prompts, SamplingParams(n=2, temperature=1.0, seeds=seeds))
    message = str(caught.value)
    assert "openai sampler" in message and server.url in message and "'teacher'" in message
    assert "greedily" in message and "do_sample" in message
    # The same server at temperature 0 is doing what it was asked.
    rows = sampler.generate(prompts, SamplingParams(n=2, temperature=0.0))
    assert all(len(set(c.text for c in row)) == 1 for row in rows)


# -- Ctrl-C ------------------------------------------------------------------------------------
def test_ctrl_c_cancels_requests_in_flight_and_keeps_what_arrived(server: ChatServer, ctrl_c_raises: None) -> None:
    release = threading.Event()

    def reply(body: dict[str, Any]) -> Reply:
        if body["messages"][-1]["content"] == "slow":
            release.wait(30)  # a long Long-CoT answer; bounded so a broken test cannot hang
        return answer(body)

    server.default = reply
    sampler = make_sampler(server.url, concurrency=8)
    fast_arrived = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 4:  # both fast prompts' completions are in; the slow ones are in flight
            fast_arrived.set()

    def press_ctrl_c() -> None:
        if fast_arrived.wait(30):
            os.kill(os.getpid(), signal.SIGINT)  # what a terminal sends on Ctrl-C

    sampler.on_progress = progress
    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    seeds = ((1, 2), (3, 4), (5, 6))
    try:
        with pytest.raises(SamplingInterrupted) as caught:
            sampler.generate([ask("fast-a"), ask("slow"), ask("fast-b")], SamplingParams(n=2, seeds=seeds))
        # The call returned while the server still held the slow answers: nothing waited for them.
        assert not release.is_set()
    finally:
        release.set()
        presser.join(5)
    got = caught.value.completions
    assert [c.text for c in got[0]] == ["fast-a|seed=1|0", "fast-a|seed=2|0"]
    assert got[1] == [None, None]
    assert [c.text for c in got[2]] == ["fast-b|seed=5|0", "fast-b|seed=6|0"]
    assert caught.value.arrived == 4
    assert isinstance(caught.value, KeyboardInterrupt)  # code that knows nothing of it still stops


# -- pure parts ------------------------------------------------------------------------------
def test_reasoning_content_is_put_back_in_the_models_format() -> None:
    data = {"choices": [
        {"index": 1, "message": {"content": "\n\nSo 19.", "reasoning_content": "\n12+7=19\n"}, "finish_reason": "stop"},
        {"index": 0, "message": {"content": None}, "finish_reason": "content_filter"},
    ]}
    first, second = completions_from_response(data)
    assert (first.text, first.finish_reason) == ("", "content_filter")
    assert (second.text, second.finish_reason) == ("<think>\n12+7=19\n</think>\n\nSo 19.", "stop")
    assert completions_from_response(data, merge_reasoning=False)[1].text == "\n\nSo 19."
    with pytest.raises(BadResponse, match="not a string"):
        completions_from_response({"choices": [{"message": {"content": 3}}]})


@pytest.mark.parametrize(
    ("reasoning", "answer", "finish", "expected"),
    [
        # vLLM keeps the newlines around the split, transformers serve strips them: same text.
        ("\n12+7=19\n", "\n\nSo 19.", "stop", "<think>\n12+7=19\n</think>\n\nSo 19."),
        ("12+7=19", "So 19.", "stop", "<think>\n12+7=19\n</think>\n\nSo 19."),
        # Cut at the token limit while still reasoning: no `</think>` the model never wrote.
        ("12+7 is", "", "length", "<think>\n12+7 is"),
        ("\n12+7 is\n", None, "length", "<think>\n12+7 is\n"),
        # Cut while answering: the model did close its reasoning.
        ("12+7=19", "So", "length", "<think>\n12+7=19\n</think>\n\nSo"),
        # Ended inside its reasoning (servers then put the whole reply in the reasoning).
        ("12+7=19<|im_end|>", "", "stop", "<think>\n12+7=19<|im_end|>"),
    ],
)
def test_one_reasoning_format_for_every_server(reasoning: str, answer: str | None, finish: str,
                                               expected: str) -> None:
    data = {"choices": [{"index": 0, "message": {"content": answer, "reasoning_content": reasoning},
                         "finish_reason": finish}]}
    [completion] = completions_from_response(data)
    assert completion.text == expected and completion.finish_reason == finish
    assert join_reasoning(reasoning, answer or "") == expected


def test_chat_completions_url() -> None:
    assert chat_completions_url("http://h:8000/v1") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("https://api.example.com/v1/chat/completions") == \
        "https://api.example.com/v1/chat/completions"
    with pytest.raises(RedStarError, match="base_url"):
        chat_completions_url("localhost:8000")


def test_bad_options_are_reported_by_name() -> None:
    with pytest.raises(RedStarError, match="'concurrency'"):
        OpenAISampler(model="m", concurrency=0)
    with pytest.raises(RedStarError, match="'max_n_per_request'"):
        OpenAISampler(model="m", max_n_per_request=0)
    with pytest.raises(RedStarError, match="'max_retries'"):
        OpenAISampler(model="m", max_retries=-1)
    assert {"base_url", "api_key", "concurrency", "timeout", "max_retries"} <= set(options_of(OpenAISampler))


def test_registered_as_builtin(redstar_host: Any) -> None:
    assert redstar_host.registry.get("samplers", "openai") is OpenAISampler


def test_an_r1_style_server_s_responses_get_their_think_back(server: ChatServer) -> None:
    """A server whose template opened ``<think>`` in the prompt (no reasoning parser): the
    opening goes back in front, so a response cut off mid-reasoning stays unfinished."""
    truncated = {"choices": [{"index": 0, "finish_reason": "length", "message": {"content": "so \\boxed{4} maybe"}}]}
    closed = {"choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "r</think>\n\\boxed{5}"}}]}
    assert [c.text for c in completions_from_response(closed)] == ["<think>\nr</think>\n\\boxed{5}"]
    assert [c.text for c in completions_from_response(truncated)] == ["so \\boxed{4} maybe"]
    assert [c.text for c in completions_from_response(truncated, think_opened=True)] == ["<think>\nso \\boxed{4} maybe"]
    server.default = raw(json.dumps(truncated).encode())
    sampler = make_sampler(server.url, think_opened=True)
    assert sampler.generate([ask("q")], SamplingParams(n=1))[0][0].text == "<think>\nso \\boxed{4} maybe"
    with pytest.raises(RedStarError, match="'think_opened' must be true, false or null"):
        make_sampler(server.url, think_opened="yes")
