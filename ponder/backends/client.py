"""``OpenAICompatibleBackend``: one httpx client for every OpenAI-compatible server.

Hosted APIs (DeepSeek, OpenRouter) and local engines (vLLM, SGLang, Ollama's
``/v1``, llama.cpp's server) differ only in their
:class:`~ponder.backends.profiles.ProviderProfile`. This module is the loop
around the wire: send, decode, retry transient failures, recover once from a
provider that changed its reasoning-replay contract.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

import httpx

from ponder.backends.errors import (
    BackendError,
    BadRequestError,
    BrokenStreamError,
    ConnectionFailedError,
    ProtocolError,
    ResponseTooLargeError,
)
from ponder.backends.profiles import ProviderProfile, ReplayPolicy, get_profile
from ponder.backends.redact import reasoning_sent, redact_echoes
from ponder.backends.retry import RetryPolicy
from ponder.backends.sse import SSEJsonStream
from ponder.backends.types import (
    ChatRequest,
    Completed,
    Completion,
    ContentDelta,
    ReasoningDelta,
    RetryNotice,
    StreamEvent,
    ToolCallDelta,
)
from ponder.backends.wellformed import loads_json
from ponder.backends.wire import (
    Delta,
    OnceWarner,
    ResponseAssembler,
    WireRequest,
    build_chat_request,
    check_reasoning_budget,
    delta_from_chunk,
    delta_from_response,
    error_from_payload,
    error_from_response,
)

__all__ = ["DEFAULT_TIMEOUT", "OpenAICompatibleBackend"]

logger = logging.getLogger("ponder.backends")

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
"""Reasoning models think for minutes before the first answer token."""

DEFAULT_MAX_REASONING_CHARS = 4_000_000
DEFAULT_MAX_ANSWER_CHARS = 4_000_000
"""Per call; about 1M tokens each, far above any model's output limit."""
_BODY_SLACK_BYTES = 1_000_000

_MAX_CORRECTIONS = 3
"""Contract corrections per request (each must change the profile)."""
_PASS_BACK = re.compile(r"passed back|missing\W+\w*\W*reasoning", re.IGNORECASE)
_MUST_NOT = re.compile(
    r"not (?:be )?(?:supported|allowed|permitted|accepted)|must not|should not|unexpected"
    r"|unrecognized|unknown (?:field|parameter)|extra (?:inputs|fields)"
    r"|remove\W+(?:the\W+)?reasoning",
    re.IGNORECASE,
)


class _FrameDecoder(Protocol):
    """Bytes of a streamed response in, normalised deltas out."""

    def feed(self, chunk: bytes) -> list[Delta]: ...

    def close(self) -> list[Delta]: ...


class _SSEFrames:
    def __init__(self, profile: ProviderProfile) -> None:
        self._profile = profile
        self._stream = SSEJsonStream(
            on_error=lambda e: error_from_payload(e, provider=profile.name)
        )

    def feed(self, chunk: bytes) -> list[Delta]:
        return [delta_from_chunk(p, self._profile) for p in self._stream.feed(chunk)]

    def close(self) -> list[Delta]:
        return [delta_from_chunk(p, self._profile) for p in self._stream.close()]


class OpenAICompatibleBackend:
    """A :class:`~ponder.backends.protocol.ChatBackend` over ``/chat/completions``.

    ``profile`` is a profile or its name (``"auto"`` detects one from the
    base URL). Transient failures (connect errors, 429, 5xx, a stream broken
    before any event reached the caller) are retried up to ``max_retries``
    times with capped exponential backoff and full jitter, honouring
    ``Retry-After`` up to ``max_retry_after_s``. One call may send at most
    ``max_reasoning_chars`` of reasoning and ``max_answer_chars`` of answer
    and tool-call text; beyond that it ends with :class:`ResponseTooLargeError`.
    """

    _endpoint = "/chat/completions"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        profile: ProviderProfile | str = "auto",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 8.0,
        max_retry_after_s: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
        max_reasoning_chars: int = DEFAULT_MAX_REASONING_CHARS,
        max_answer_chars: int = DEFAULT_MAX_ANSWER_CHARS,
    ) -> None:
        if isinstance(profile, str):
            profile = get_profile(profile, base_url=base_url, model=model)
        base = base_url or profile.default_base_url
        if not base:
            raise ValueError(
                f"no base_url given and the {profile.name!r} profile has none; "
                "pass base_url= (e.g. http://localhost:8000/v1)"
            )
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base!r}")
        chosen = model or profile.default_model
        if not chosen:
            raise ValueError(f"no model given and the {profile.name!r} profile has no default")
        self._profile = profile
        self._base_url = base.rstrip("/")
        self._model = chosen
        self._api_key = _checked_key(api_key)
        self._retry = RetryPolicy(
            max_retries=max_retries,
            initial_s=backoff_initial_s,
            max_s=backoff_max_s,
            max_retry_after_s=max_retry_after_s,
        )
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout)
        self._warner = OnceWarner()
        if max_reasoning_chars < 1 or max_answer_chars < 1:
            raise ValueError("max_reasoning_chars and max_answer_chars must be >= 1")
        self._limits = {"reasoning": max_reasoning_chars, "answer": max_answer_chars}

    # -- ChatBackend

    @property
    def profile(self) -> ProviderProfile:
        """The profile in force (its replay policy may have been corrected by the provider)."""
        return self._profile

    @property
    def model(self) -> str:
        return self._model

    @property
    def base_url(self) -> str:
        return self._base_url

    async def complete(self, request: ChatRequest) -> Completion:
        """One turn through the non-streaming endpoint.

        Raises :class:`ReasoningBudgetExhausted` when the model spent its
        whole budget thinking, and other :class:`BackendError` subclasses.
        """
        attempt = 0
        corrections = 0
        while True:
            wire = self._prepare(request, stream=False)
            try:
                completion = await self._complete_once(wire)
            except BackendError as exc:
                if corrections < _MAX_CORRECTIONS and self._recover_drift(exc):
                    corrections += 1
                    continue
                attempt += 1
                if not self._retry.should_retry(exc, attempt):
                    raise
                await asyncio.sleep(self._retry.delay_s(exc, attempt))
                continue
            self._check_size("reasoning", len(completion.reasoning))
            self._check_size(
                "answer",
                len(completion.content)
                + sum(len(call.arguments) for call in completion.tool_calls),
            )
            check_reasoning_budget(completion, advice="raise max_tokens or lower reasoning_effort")
            return completion

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as they arrive, then one :class:`Completed`.

        Before sleeping for a retry a :class:`RetryNotice` is yielded. Once any
        event has reached the caller nothing is retried: the error is raised.
        """
        attempt = 0
        corrections = 0
        while True:
            wire = self._prepare(request, stream=True)
            assembler = ResponseAssembler(
                self._profile, starts_in_thought=wire.starts_in_thought, model=wire.model
            )
            delivered = False
            delivered_chars = 0
            sizes = {"reasoning": 0, "answer": 0}
            try:
                async with aclosing(self._stream_once(wire, assembler)) as events:
                    async for event in events:
                        delivered = True
                        delivered_chars += _chars(event)
                        self._count(event, sizes)
                        yield event
            except BackendError as exc:
                if delivered:
                    if isinstance(exc, BrokenStreamError) and not exc.partial_chars:
                        exc.partial_chars = delivered_chars
                    raise
                if corrections < _MAX_CORRECTIONS and self._recover_drift(exc):
                    corrections += 1
                    continue
                attempt += 1
                if not self._retry.should_retry(exc, attempt):
                    raise
                delay = self._retry.delay_s(exc, attempt)
                yield RetryNotice(attempt=attempt, delay_s=delay, reason=exc.message)
                await asyncio.sleep(delay)
                continue
            completion = assembler.completion()
            check_reasoning_budget(completion, advice="raise max_tokens or lower reasoning_effort")
            yield Completed(completion=completion)
            return

    async def list_models(self) -> list[str]:
        """The model ids the server offers (``GET /models``)."""
        data = await self._get_json(f"{self._base_url}/models")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProtocolError("unexpected response shape: /models has no 'data' list")
        return [m["id"] for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def aclose(self) -> None:
        """Close the HTTP client if this backend created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(profile={self._profile.name!r}, "
            f"base_url={_without_userinfo(self._base_url)!r}, model={self._model!r})"
        )

    # -- transport hooks (OllamaNativeBackend overrides these)

    def _prepare(self, request: ChatRequest, *, stream: bool) -> WireRequest:
        return build_chat_request(
            request,
            self._profile,
            model=self._model,
            base_url=self._base_url,
            stream=stream,
            warner=self._warner,
        )

    def _frames(self) -> _FrameDecoder:
        return _SSEFrames(self._profile)

    def _parse_response(self, data: dict[str, Any]) -> Delta:
        return delta_from_response(data, self._profile)

    # -- internals

    def _count(self, event: StreamEvent, sizes: dict[str, int]) -> None:
        if isinstance(event, ReasoningDelta):
            kind = "reasoning"
        elif isinstance(event, ContentDelta | ToolCallDelta):
            kind = "answer"
        else:
            return
        sizes[kind] += _chars(event)
        self._check_size(kind, sizes[kind])

    def _check_size(self, kind: str, size: int) -> None:
        if size > self._limits[kind]:
            raise ResponseTooLargeError(kind, self._limits[kind])

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """A whole (non-streamed) body, refused once it could not fit the limits."""
        cap = 4 * (self._limits["reasoning"] + self._limits["answer"]) + _BODY_SLACK_BYTES
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise ResponseTooLargeError("answer", self._limits["answer"])
            chunks.append(chunk)
        return b"".join(chunks)

    def _headers(self, *, stream: bool) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def _complete_once(self, wire: WireRequest) -> Completion:
        url = wire.base_url + self._endpoint
        responded = False
        try:
            async with self._client.stream(
                "POST", url, json=wire.body, headers=self._headers(stream=False)
            ) as response:
                responded = True
                body = await self._read_capped(response)
        except httpx.TransportError as exc:
            raise self._transport_error(exc, responded=responded) from None
        except httpx.DecodingError as exc:
            raise _undecodable(exc) from None
        if response.status_code >= 400:
            raise self._http_error(response.status_code, body, response.headers, sent=wire.body)
        assembler = ResponseAssembler(
            self._profile, starts_in_thought=wire.starts_in_thought, model=wire.model
        )
        assembler.add(self._parse_response(_json_object(body)))
        assembler.finish()
        return assembler.completion()

    async def _stream_once(
        self, wire: WireRequest, assembler: ResponseAssembler
    ) -> AsyncGenerator[StreamEvent, None]:
        url = wire.base_url + self._endpoint
        responded = False
        try:
            async with self._client.stream(
                "POST", url, json=wire.body, headers=self._headers(stream=True)
            ) as response:
                responded = True
                if response.status_code >= 400:
                    body = await response.aread()
                    raise self._http_error(
                        response.status_code, body, response.headers, sent=wire.body
                    )
                if response.headers.get("content-type", "").startswith("application/json"):
                    # The server ignored "stream": true and sent one whole completion.
                    delta = self._parse_response(_json_object(await response.aread()))
                    for event in assembler.add(delta):
                        yield event
                else:
                    frames = self._frames()
                    async for chunk in response.aiter_bytes():
                        for delta in frames.feed(chunk):
                            for event in assembler.add(delta):
                                yield event
                    for delta in frames.close():
                        for event in assembler.add(delta):
                            yield event
        except httpx.TransportError as exc:
            raise self._transport_error(exc, responded=responded) from None
        except httpx.DecodingError as exc:
            raise _undecodable(exc) from None
        for event in assembler.finish():
            yield event

    async def _get_json(self, url: str) -> Any:
        try:
            response = await self._client.get(url, headers=self._headers(stream=False))
        except httpx.TransportError as exc:
            raise self._transport_error(exc, responded=False) from None
        except httpx.DecodingError as exc:
            raise _undecodable(exc) from None
        if response.status_code >= 400:
            raise self._http_error(response.status_code, response.content, response.headers)
        return _json_object(response.content)

    def _http_error(
        self,
        status: int,
        body: bytes,
        headers: httpx.Headers,
        *,
        sent: Mapping[str, Any] | None = None,
    ) -> BackendError:
        """A typed error whose message quotes neither the key nor reasoning we sent."""
        error = error_from_response(status, body, headers, provider=self._profile.name)
        secrets = [self._api_key or "", *(reasoning_sent(sent) if sent is not None else ())]
        cleaned = redact_echoes(error.message, secrets)
        if cleaned != error.message:
            error.message = cleaned
            error.args = (cleaned,)
        return error

    def _transport_error(self, exc: httpx.TransportError, *, responded: bool) -> BackendError:
        where = _without_userinfo(self._base_url)
        detail = type(exc).__name__
        if responded:
            return BrokenStreamError(f"the stream from {where} broke: {detail}")
        if isinstance(exc, httpx.TimeoutException):
            return ConnectionFailedError(f"timed out talking to {where} ({detail})")
        return ConnectionFailedError(f"could not reach {where} ({detail})")

    def _recover_drift(self, exc: BackendError) -> bool:
        """Adopt the contract a 400 asks for; True if the request should be resent.

        Providers change their contracts (DeepSeek's reasoning replay flipped
        twice); a 400 that names what it wants corrects this backend's profile
        in memory, never on disk.
        """
        changes = _contract_correction(exc, self._profile)
        if changes is None:
            return False
        logger.warning(
            "%s rejected the request (%s); adjusting this backend's profile %s and retrying",
            self._profile.name,
            exc.message,
            ", ".join(
                f"{key} from {getattr(self._profile, key)!r} to {value!r}"
                for key, value in changes.items()
            ),
        )
        self._profile = self._profile.with_overrides(**changes)
        return True


def _contract_correction(exc: BackendError, profile: ProviderProfile) -> dict[str, Any] | None:
    """The profile fields that would satisfy the provider's 400, or None."""
    if not isinstance(exc, BadRequestError):
        return None
    message = exc.message.lower()
    if "reasoning" in message:
        target = _replay_demanded(exc.message)
        if target is not None and target != profile.replay:
            return {"replay": target, "replay_placeholder": target == "tool_turns"}
        return None
    if "failed to initialize samplers" in message and profile.json_modes:
        # llama.cpp: a JSON grammar with --reasoning-format none and a template that
        # opens <think> cannot start; ask for JSON in the prompt and validate locally.
        return {"json_modes": frozenset()}
    if "response_format" in message and "json_schema" in profile.json_modes:
        return {"json_modes": frozenset({"json_object"}), "json_needs_word": True}
    forced = profile.tool_choice_modes - {"auto", "none"}
    if "tool_choice" in message and forced:
        return {"tool_choice_modes": profile.tool_choice_modes - forced}
    return None


def _replay_demanded(message: str) -> ReplayPolicy | None:
    if _PASS_BACK.search(message):
        return "tool_turns"
    if _MUST_NOT.search(message):
        return "never"
    return None


def _chars(event: StreamEvent) -> int:
    if isinstance(event, ReasoningDelta | ContentDelta):
        return len(event.text)
    if isinstance(event, ToolCallDelta):
        return len(event.arguments)
    return 0


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = loads_json(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"the response is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"the response is JSON {type(data).__name__}, not an object")
    return data


def _checked_key(key: str | None) -> str | None:
    """The key, or ``ValueError`` (never quoting it) when no HTTP header could carry it."""
    if not key:
        return None
    if any(not 0x21 <= ord(c) <= 0x7E for c in key):
        raise ValueError(
            "the API key contains whitespace or characters an HTTP header cannot carry "
            "(a trailing newline from a file or a paste?); check the key"
        )
    return key


def _undecodable(exc: httpx.DecodingError) -> ProtocolError:
    return ProtocolError(f"the response body could not be decoded ({exc})")


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
