"""The ``openai`` sampler: any server that speaks OpenAI's ``/v1/chat/completions`` (``vllm
serve``, SGLang, TGI, hosted APIs), queried concurrently with retries."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import httpx

from redstar import __version__
from redstar.errors import RedStarError
from redstar.interfaces import Completion, Messages, Sampler, SamplingParams
from redstar.samplers.chat import MAX_SEED, check_conversations, check_params, openai_messages
from redstar.samplers.retry import backoff_delay, parse_retry_after, should_retry_status
from redstar.samplers.text import REASONING_TAGS, normalize_finish_reason

#: How much of a bad response to quote in an error message.
EXCERPT_CHARS = 300


class ServerError(RedStarError):
    """A generation server refused a request, kept failing, or answered with something that is
    not a chat completion. The message names the URL and what was wrong."""


class BadResponse(Exception):
    """A response arrived but cannot be read as a chat completion (retried like a 5xx)."""


def chat_completions_url(base_url: str) -> str:
    """The chat-completions endpoint for ``base_url``: ``http://host:8000/v1`` and
    ``http://host:8000`` (which gets ``/v1``) both give ``http://host:8000/v1/chat/completions``;
    a URL that already ends in ``/chat/completions`` is kept."""
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise RedStarError(f"openai sampler: option 'base_url' must be an http(s) URL, got {base_url!r}")
    path = url.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path = (path or "/v1") + "/chat/completions"
    return str(url.copy_with(path=path))


def completions_from_response(data: Any, merge_reasoning: bool = True) -> list[Completion]:
    """The completions in a decoded ``/chat/completions`` response body, ordered by each
    choice's ``index``. Raises :class:`BadResponse` saying which field is missing or wrong.

    Servers that split reasoning from the answer (vLLM's ``--reasoning-parser``, DeepSeek's API)
    return it in ``message.reasoning_content`` (or ``message.reasoning``); with
    ``merge_reasoning`` it is put back in front of the answer between ``<think>`` tags, since a
    Long-CoT sample is the reasoning *and* the answer.
    """
    if not isinstance(data, dict):
        raise BadResponse(f"the response is JSON but not an object: {_excerpt(data)}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        what = "an error" if "error" in data else "no non-empty 'choices' list"
        raise BadResponse(f"the response has {what}: {_excerpt(data)}")
    indexed = []
    for position, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise BadResponse(f"choices[{position}] is not an object: {_excerpt(choice)}")
        message = choice.get("message")
        if not isinstance(message, dict):
            raise BadResponse(f"choices[{position}] has no 'message' object: {_excerpt(choice)}")
        if "content" not in message:
            raise BadResponse(f"choices[{position}].message has no 'content': {_excerpt(message)}")
        content = message["content"]
        if content is None:  # a refusal or a content filter: an empty answer, not a bad reply
            content = ""
        if not isinstance(content, str):
            raise BadResponse(f"choices[{position}].message.content is not a string: {_excerpt(content)}")
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if merge_reasoning and isinstance(reasoning, str) and reasoning:
            opening, closing = REASONING_TAGS
            content = f"{opening}{reasoning}{closing}{content}"
        index = choice.get("index")
        order = index if isinstance(index, int) and not isinstance(index, bool) else position
        indexed.append((order, Completion(content, normalize_finish_reason(choice.get("finish_reason")))))
    return [completion for _, completion in sorted(indexed, key=lambda pair: pair[0])]


@dataclass(frozen=True)
class _Slots:
    """Completions ``first .. first + count - 1`` of one conversation, asked in one request."""

    conversation: int
    first: int
    count: int


class OpenAISampler(Sampler):
    """Sample from an OpenAI-compatible chat-completions server.

    ``model`` is the name the server knows the model by (for ``vllm serve PATH`` that is
    ``PATH`` unless ``--served-model-name`` says otherwise); it is sent as is.

    Options:

    - ``base_url``: the server's API root, e.g. ``http://127.0.0.1:8000/v1`` (a bare
      ``http://host:port`` gets ``/v1``).
    - ``api_key``: sent as a bearer token. Leave it out of recipes: by default it is read from the
      environment variable named by ``api_key_env`` (``OPENAI_API_KEY``), else ``"EMPTY"``, which
      local servers accept.
    - ``concurrency``: requests in flight at once. A vLLM/SGLang server batches concurrent
      requests, so more keeps its GPUs busy.
    - ``timeout``: seconds one request may take, connecting included (a 16k-token Long-CoT
      answer takes minutes).
    - ``max_retries``, ``backoff``, ``max_backoff``: failed requests (connection errors,
      timeouts, HTTP 408/409/429/5xx, unreadable responses) are retried up to ``max_retries``
      times, waiting ``backoff * 2**attempt`` seconds (at most ``max_backoff``, half of it
      random), or what the server's ``Retry-After`` asks, up to ``max_backoff``.
    - ``max_n_per_request``: the most completions one request asks for; ``n`` is split over
      several requests (for APIs that cap or reject ``n``). Servers that silently return fewer
      choices than asked are handled anyway: RedStar asks again for the rest.
    - ``merge_reasoning``: put a separate ``reasoning_content`` back in front of the answer,
      between ``<think>`` tags.
    - ``extra_body``: more JSON fields for every request, e.g. ``{"top_k": 20}`` or vLLM's
      ``{"skip_special_tokens": false}``.

    A seeded request that is split or repeated gets seed ``seed + first completion's number``,
    so the pieces do not repeat one another. Per-completion ``params.seeds`` (what a run sends)
    are honoured as far as the server allows: each completion is its own ``n=1`` request
    carrying its seed. vLLM and SGLang servers then draw it as they would anywhere else in a
    batch; servers that ignore ``seed`` (hosted APIs treat it as best effort) draw what they
    like, and a resumed run may then differ from an uninterrupted one. Asking ``n=1`` at a time
    sends the prompt once per completion: local servers reuse its cache, paid APIs may bill it
    again. Set :attr:`on_progress` to be told ``(completions done, completions asked)`` as
    responses arrive.
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 32,
        timeout: float = 900.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_n_per_request: int | None = None,
        merge_reasoning: bool = True,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model)
        problems = []
        if not isinstance(concurrency, int) or concurrency < 1:
            problems.append(f"'concurrency' must be a positive integer, got {concurrency!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            problems.append(f"'max_retries' must be a non-negative integer, got {max_retries!r}")
        if not timeout or timeout <= 0:
            problems.append(f"'timeout' must be positive, got {timeout!r}")
        if backoff < 0 or max_backoff < 0:
            problems.append("'backoff' and 'max_backoff' must not be negative")
        if max_n_per_request is not None and (not isinstance(max_n_per_request, int) or max_n_per_request < 1):
            problems.append(f"'max_n_per_request' must be a positive integer, got {max_n_per_request!r}")
        if extra_body is not None and not isinstance(extra_body, Mapping):
            problems.append(f"'extra_body' must be a mapping, got {type(extra_body).__name__}")
        if problems:
            raise RedStarError("openai sampler: " + "; ".join(problems))
        self.url = chat_completions_url(base_url)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_n_per_request = max_n_per_request
        self.merge_reasoning = merge_reasoning
        self.extra_body = dict(extra_body or {})
        key = api_key if api_key is not None else os.environ.get(api_key_env) or "EMPTY"
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {key}", "User-Agent": f"redstar/{__version__}"},
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        #: Called as ``on_progress(done, total)`` (completions) as responses arrive.
        self.on_progress: Callable[[int, int], None] | None = None
        # Indirections so tests can observe the waits without spending them.
        self._sleep: Callable[[float], None] = time.sleep
        self._rng = random.Random()

    # -- generation ------------------------------------------------------------------------
    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        check_conversations(conversations, self.name, images=True)
        check_params(params, self.name, len(conversations))
        if not conversations:
            return []
        messages = [openai_messages(conversation) for conversation in conversations]
        per_request = min(params.n, self.max_n_per_request or params.n)
        if params.seeds is not None and params.temperature > 0:
            per_request = 1  # one seed per completion, so one completion per request
        slots: list[list[Completion | None]] = [[None] * params.n for _ in conversations]
        total, done = len(conversations) * params.n, 0
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="redstar-openai")
        pending: dict[Future, _Slots] = {}

        def submit(ask: _Slots) -> None:
            body = self._body(messages[ask.conversation], params, ask)
            pending[executor.submit(self._post, body)] = ask

        try:
            for c in range(len(conversations)):
                for first in range(0, params.n, per_request):
                    submit(_Slots(c, first, min(per_request, params.n - first)))
            while pending:
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in finished:
                    ask = pending.pop(future)
                    received = future.result()[:ask.count]
                    for offset, completion in enumerate(received):
                        slots[ask.conversation][ask.first + offset] = completion
                    # A server that returned fewer choices than asked (it ignores or caps `n`)
                    # is asked for the rest in pieces of the size it did return, in parallel.
                    for first in range(ask.first + len(received), ask.first + ask.count, len(received)):
                        submit(_Slots(ask.conversation, first, min(len(received), ask.first + ask.count - first)))
                    done += len(received)
                    if self.on_progress is not None:
                        self.on_progress(done, total)
        finally:
            # On an error, requests not yet sent are dropped rather than waited for.
            executor.shutdown(wait=False, cancel_futures=True)
        return [list(row) for row in slots]  # type: ignore[arg-type]

    def _body(self, messages: list[dict[str, Any]], params: SamplingParams, ask: _Slots) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "n": ask.count,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
        }
        if params.seeds is not None and params.temperature > 0:
            body["seed"] = params.seeds[ask.conversation][ask.first]
        elif params.seed is not None:
            body["seed"] = (params.seed + ask.first) % (MAX_SEED + 1)  # stays an int64
        if params.stop:
            body["stop"] = list(params.stop)
        body.update(self.extra_body)
        return body

    def _post(self, body: dict[str, Any]) -> list[Completion]:
        """One request, retried; returns its completions or raises :class:`ServerError`."""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            retry_after = None
            try:
                response = self._client.post(self.url, json=body)
            except httpx.RequestError as exc:  # connection refused or reset, timeouts
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.is_success:
                    try:
                        return completions_from_response(_json(response), self.merge_reasoning)
                    except BadResponse as exc:
                        problem = str(exc)
                elif should_retry_status(response.status_code):
                    problem = f"HTTP {response.status_code}: {_excerpt(response.text)}"
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                else:
                    raise ServerError(
                        f"POST {self.url} was refused with HTTP {response.status_code} (not retried): "
                        f"{_excerpt(response.text)}"
                    )
            if attempt + 1 < attempts:
                self._sleep(backoff_delay(attempt, self.backoff, self.max_backoff, self._rng, retry_after))
        raise ServerError(f"POST {self.url} failed after {attempts} attempt(s); last problem: {problem}")

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise BadResponse(f"the response is not JSON ({exc}): {_excerpt(response.text)}") from None


def _excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else ""))
