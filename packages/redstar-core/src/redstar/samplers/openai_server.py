"""The ``openai`` sampler: any server that speaks OpenAI's ``/v1/chat/completions`` (``vllm
serve``, SGLang, ``transformers serve``, TGI, hosted APIs), through the ``openai`` SDK's async
client: its connection pool, timeouts, retries and ``Retry-After`` handling.

What RedStar adds on top: many requests in flight at once (``concurrency``), asking again for
the completions a server did not return (some ignore ``n``), one seed per completion, one
reasoning format for every server, a stop with a clear message when a server returns copies
instead of samples, and a Ctrl-C that cancels what is in flight at once and keeps what arrived.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redstar.errors import MissingDependencyError, RedStarError
from redstar.interfaces import Completion, Messages, Sampler, SamplingParams
from redstar.samplers.chat import MAX_SEED, check_conversations, check_params, openai_messages
from redstar.samplers.diversity import check_samples_differ
from redstar.samplers.interrupted import SamplingInterrupted
from redstar.samplers.text import join_reasoning, normalize_finish_reason, reopen_reasoning

#: How much of a bad response to quote in an error message.
EXCERPT_CHARS = 300

#: Statuses the SDK retries (besides connection errors and timeouts): overloaded, restarting or
#: briefly broken servers. Other 4xx answers fail the same way again and are not retried.
RETRIED_STATUSES = frozenset({408, 409, 429})

#: What a server that returns copies instead of samples is most likely doing, and the fix.
GREEDY_SERVER_CAUSE = (
    "the server probably decodes greedily whatever the temperature. `transformers serve` does unless "
    "the request asks it to sample: add `extra_body: {generation_config: '{\"do_sample\": true}'}` to "
    "the sampler's options. Other servers: check that they honour `temperature` and `seed` and do not "
    "cache answers"
)


class ServerError(RedStarError):
    """A generation server refused a request, kept failing, or answered with something that is
    not a chat completion. The message names the URL and what was wrong."""


class BadResponse(Exception):
    """A response arrived but cannot be read as a chat completion."""


def _split_base_url(base_url: str) -> tuple[str, str]:
    """``(API root for the SDK, chat-completions URL)`` for the ``base_url`` option."""
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise RedStarError(f"openai sampler: option 'base_url' must be an http(s) URL, got {base_url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/chat/completions"):
        path = path[: -len("/chat/completions")]
    root = urlunsplit((parts.scheme, parts.netloc, path or "/v1", parts.query, ""))
    return root, root.rstrip("/") + "/chat/completions"


def chat_completions_url(base_url: str) -> str:
    """The chat-completions endpoint for ``base_url``: ``http://host:8000/v1`` and
    ``http://host:8000`` (which gets ``/v1``) both give ``http://host:8000/v1/chat/completions``;
    a URL that already ends in ``/chat/completions`` is kept."""
    return _split_base_url(base_url)[1]


def completions_from_response(data: Any, merge_reasoning: bool = True, think_opened: bool | None = None) -> list[Completion]:
    """The completions in a decoded ``/chat/completions`` response body, ordered by each
    choice's ``index``. Raises :class:`BadResponse` saying which field is missing or wrong.

    Servers that split reasoning from the answer (vLLM's ``--reasoning-parser``, ``transformers
    serve`` for Qwen-family models, DeepSeek's API) return it in ``message.reasoning_content``
    (or ``message.reasoning``); with ``merge_reasoning`` it is put back in front of the answer
    in the format the model wrote it (:func:`~redstar.samplers.text.join_reasoning`), since a
    Long-CoT sample is the reasoning *and* the answer. A response whose ``<think>`` the
    server's template wrote (R1-style) gets it back in front as ``think_opened`` says
    (:func:`~redstar.samplers.text.reopen_reasoning`).
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
        if content is None:  # a refusal, a content filter, or all reasoning: no answer text
            content = ""
        if not isinstance(content, str):
            raise BadResponse(f"choices[{position}].message.content is not a string: {_excerpt(content)}")
        finish_reason = normalize_finish_reason(choice.get("finish_reason"))
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if merge_reasoning and isinstance(reasoning, str) and reasoning:
            content = join_reasoning(reasoning, content)
        content = reopen_reasoning(content, think_opened)
        index = choice.get("index")
        order = index if isinstance(index, int) and not isinstance(index, bool) else position
        indexed.append((order, Completion(content, finish_reason)))
    return [completion for _, completion in sorted(indexed, key=lambda pair: pair[0])]


@dataclass(frozen=True)
class _Slots:
    """Completions ``first .. first + count - 1`` of one conversation, asked in one request."""

    conversation: int
    first: int
    count: int


class OpenAISampler(Sampler):
    """Sample from an OpenAI-compatible chat-completions server.

    Seeds: a seeded request that is split or repeated gets seed ``seed + first completion's
    number``, so the pieces do not repeat one another. Per-completion ``params.seeds`` (what a
    run sends) are honoured as far as the server allows: each completion is its own ``n=1``
    request carrying its seed. vLLM and SGLang servers then draw it as they would anywhere else
    in a batch; servers that ignore ``seed`` (hosted APIs treat it as best effort) draw what they
    like, and a resumed run may then differ from an uninterrupted one. Asking ``n=1`` at a time
    sends the prompt once per completion: local servers reuse its cache, paid APIs may bill it
    again.

    A call whose completions are copies of one another at ``temperature > 0`` raises
    :class:`~redstar.samplers.diversity.IdenticalSamplesError` (see that module for the rule).
    Ctrl-C cancels the requests in flight and raises
    :class:`~redstar.samplers.interrupted.SamplingInterrupted` holding the completions that
    arrived. Set :attr:`on_progress` to be told ``(completions done, completions asked)`` as
    responses arrive.

    Args:
        model: The name the server knows the model by, sent as is (for ``vllm serve PATH`` that
            is ``PATH`` unless ``--served-model-name`` says otherwise).
        base_url: The server's API root, e.g. ``http://127.0.0.1:8000/v1`` (a bare
            ``http://host:port`` gets ``/v1``).
        api_key: The bearer token sent with every request. Leave it out of recipes: by default
            it is read from the environment variable ``api_key_env`` names, else ``EMPTY`` is
            sent, which local servers accept.
        api_key_env: The environment variable the API key is read from when ``api_key`` is not
            set.
        concurrency: How many requests are in flight at once. A vLLM or SGLang server batches
            concurrent requests, so more keeps its GPUs busy.
        timeout: The seconds one request may wait on the network (connecting, or between two
            reads of the answer); a 16k-token Long-CoT answer takes minutes.
        max_retries: How often the SDK retries a request after a connection error, a timeout or
            HTTP 408/409/429/5xx, waiting 0.5 s doubling up to 8 s, or what the server's
            ``Retry-After`` asks (up to 2 minutes; a longer ``Retry-After`` fails at once).
        max_n_per_request: The most completions one request asks for; ``n`` is split over
            several requests (for APIs that cap or reject ``n``). Servers that silently return
            fewer choices than asked are handled anyway: RedStar asks again for the rest.
        merge_reasoning: Whether a separate ``reasoning_content`` is put back in front of the
            answer, as ``<think>\\nREASONING\\n</think>\\n\\nANSWER``.
        think_opened: Whether the server's chat template ends the generation prompt with
            ``<think>`` (R1-style templates: DeepSeek-R1, QwQ), so that the model's text starts
            inside its reasoning without the opening tag. ``true`` puts ``<think>\\n`` back in
            front of every response; ``null`` (the default) does so for each response that
            closes a ``</think>`` it never opened, which cannot catch a response cut off before
            it closed its reasoning (set ``true`` for such models served without a reasoning
            parser); ``false`` never does.
        extra_body: More JSON fields for every request. Which fields a server takes depends on
            the server: vLLM takes ``{"top_k": 20, "skip_special_tokens": false}``;
            ``transformers serve`` refuses both (HTTP 422) and takes
            ``{"generation_config": "{\\"do_sample\\": true}"}``.
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
        max_retries: int = 8,
        max_n_per_request: int | None = None,
        merge_reasoning: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        think_opened: bool | None = None,
    ) -> None:
        super().__init__(model)
        problems = []
        if not isinstance(concurrency, int) or concurrency < 1:
            problems.append(f"'concurrency' must be a positive integer, got {concurrency!r}")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            problems.append(f"'max_retries' must be a non-negative integer, got {max_retries!r}")
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            problems.append(f"'timeout' must be positive, got {timeout!r}")
        if max_n_per_request is not None and (not isinstance(max_n_per_request, int) or max_n_per_request < 1):
            problems.append(f"'max_n_per_request' must be a positive integer, got {max_n_per_request!r}")
        if think_opened is not None and not isinstance(think_opened, bool):
            problems.append(f"'think_opened' must be true, false or null, got {think_opened!r}")
        if extra_body is not None and not isinstance(extra_body, Mapping):
            problems.append(f"'extra_body' must be a mapping, got {type(extra_body).__name__}")
        if problems:
            raise RedStarError("openai sampler: " + "; ".join(problems))
        self.api_root, self.url = _split_base_url(base_url)
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_n_per_request = max_n_per_request
        self.merge_reasoning = merge_reasoning
        self.think_opened = think_opened
        self.extra_body = dict(extra_body or {})
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env) or "EMPTY"
        #: Called as ``on_progress(done, total)`` (completions) as responses arrive.
        self.on_progress: Callable[[int, int], None] | None = None

    # -- generation ------------------------------------------------------------------------
    def generate(self, conversations: Sequence[Messages], params: SamplingParams) -> list[list[Completion]]:
        check_conversations(conversations, self.name, images=True)
        check_params(params, self.name, len(conversations))
        if not conversations:
            return []
        messages = [openai_messages(conversation) for conversation in conversations]
        # Filled in as responses arrive, so that an interrupted call still has them.
        slots: list[list[Completion | None]] = [[None] * params.n for _ in conversations]
        try:
            _run(self._sample(messages, params, slots))
        except KeyboardInterrupt:
            raise SamplingInterrupted(slots) from None
        check_samples_differ(slots, params, f"the openai sampler (model {self.model!r} at {self.url})",
                             GREEDY_SERVER_CAUSE)
        return [list(row) for row in slots]  # type: ignore[arg-type]

    async def _sample(self, messages: list[list[dict[str, Any]]], params: SamplingParams,
                      slots: list[list[Completion | None]]) -> None:
        """Send every request (at most ``concurrency`` at once) and put each completion in its
        slot. On an error or a cancellation (Ctrl-C), the requests in flight are cancelled
        before this returns: nothing waits for a slow server."""
        client = self._client()
        gate = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        progress = {"done": 0, "total": len(slots) * params.n}

        async def ask(part: _Slots) -> None:
            async with gate:
                received = (await self._request(client, self._body(messages[part.conversation], params, part)))
            received = received[:part.count]
            for offset, completion in enumerate(received):
                slots[part.conversation][part.first + offset] = completion
            # A server that returned fewer choices than asked (it ignores or caps `n`) is asked
            # for the rest in pieces of the size it did return, in parallel.
            end = part.first + part.count
            for first in range(part.first + len(received), end, len(received)):
                spawn(_Slots(part.conversation, first, min(len(received), end - first)))
            progress["done"] += len(received)
            if self.on_progress is not None:
                self.on_progress(progress["done"], progress["total"])

        def spawn(part: _Slots) -> None:
            tasks.add(asyncio.ensure_future(ask(part)))

        per_request = min(params.n, self.max_n_per_request or params.n)
        if params.seeds is not None and params.temperature > 0:
            per_request = 1  # one seed per completion, so one completion per request
        try:
            for c in range(len(messages)):
                for first in range(0, params.n, per_request):
                    spawn(_Slots(c, first, min(per_request, params.n - first)))
            while tasks:
                finished, _ = await asyncio.wait(set(tasks), return_when=asyncio.FIRST_COMPLETED)
                tasks.difference_update(finished)
                for task in finished:
                    task.result()  # the first failure ends the call
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    def _client(self) -> Any:
        try:
            from openai import AsyncOpenAI
        except ImportError as exc:  # declared by redstar-core; missing only in a broken install
            raise MissingDependencyError("the openai sampler needs the openai package: pip install openai") from exc
        # One client per call: its connections belong to the event loop of that call.
        return AsyncOpenAI(base_url=self.api_root, api_key=self._api_key, timeout=self.timeout,
                           max_retries=self.max_retries)

    def _body(self, messages: list[dict[str, Any]], params: SamplingParams, part: _Slots) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "n": part.count,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
        }
        if params.seeds is not None and params.temperature > 0:
            body["seed"] = params.seeds[part.conversation][part.first]
        elif params.seed is not None:
            body["seed"] = (params.seed + part.first) % (MAX_SEED + 1)  # stays an int64
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    async def _request(self, client: Any, body: dict[str, Any]) -> list[Completion]:
        """One request, retried by the SDK; its completions, or :class:`ServerError`."""
        import openai

        try:
            # The raw response: RedStar reads the JSON itself, to check every field it needs and
            # to see fields the SDK's types leave out (``reasoning_content``).
            raw = await client.chat.completions.with_raw_response.create(**body, extra_body=self.extra_body or None)
        except openai.APIStatusError as exc:
            raise ServerError(self._status_problem(exc)) from None
        except openai.APITimeoutError as exc:
            raise ServerError(f"POST {self.url} timed out after {_attempts(exc.request)} attempt(s) "
                              f"(option 'timeout': {self.timeout:g} s)") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__
            what = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
            raise ServerError(f"POST {self.url} failed after {_attempts(exc.request)} attempt(s): "
                              f"cannot connect ({what})") from None
        text = raw.http_response.text
        try:
            return completions_from_response(json.loads(text), self.merge_reasoning, self.think_opened)
        except ValueError as exc:  # BadResponse is not a ValueError; this is the JSON decoder
            problem = f"the response is not JSON ({exc}): {_excerpt(text)}"
        except BadResponse as exc:
            problem = str(exc)
        # Not retried: a 200 that is not a chat completion is a wrong base_url (a web page, a
        # proxy) or a server bug, and asking again gives the same answer.
        raise ServerError(f"POST {self.url} answered with something that is not a chat completion: {problem}")

    def _status_problem(self, exc: Any) -> str:
        status = exc.status_code
        said = _excerpt(exc.response.text)
        attempts = _attempts(exc.response.request)
        if status in RETRIED_STATUSES or status >= 500:
            message = f"POST {self.url} failed after {attempts} attempt(s); last answer HTTP {status}: {said}"
            wait = exc.response.headers.get("retry-after")
            if attempts == 1 and wait:
                message += f" (the server asked to wait {wait} s, longer than the 2 minutes the client waits)"
            return message
        message = f"POST {self.url} was refused with HTTP {status} (not retried): {said}"
        if status in (400, 422):
            message += (". If it names a field of the request, the server does not take it: check the "
                        "sampler's extra_body (vLLM takes skip_special_tokens and top_k; transformers serve "
                        "refuses both and takes generation_config)")
        return message

    def close(self) -> None:
        """Nothing to release: each call opens and closes its own connections."""


def _run(coroutine: Any) -> None:
    """Run ``coroutine`` to completion from synchronous code. Inside a running event loop (a
    notebook), it runs on a loop of its own in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="redstar-openai") as pool:
        pool.submit(asyncio.run, coroutine).result()


def _attempts(request: Any) -> int:
    """How many times the SDK sent a request: it numbers retries in a header of each."""
    try:
        return int(request.headers.get("x-stainless-retry-count", "0")) + 1
    except (AttributeError, TypeError, ValueError):
        return 1


def _excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else ""))
