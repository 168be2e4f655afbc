"""The probes of ``ponder doctor``: what a configured backend can do.

A handful of tiny requests go through ponder's own backends (no retries)
while a recording transport keeps the raw response bytes, so the report can
say both what ponder understood and how the server spelled it: reachable,
models, where reasoning arrives, the think-tag style, tool calls,
``tool_choice``, JSON modes and the profile in use. Exit codes follow
``ponder.cli._common``: 0 usable, 2 bad configuration, 3 unreachable, 4
authentication failed, 5 the backend answers but chat does not work.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from ponder.backends import (
    AuthenticationError,
    BackendError,
    BadRequestError,
    BrokenStreamError,
    ChatRequest,
    Completed,
    Completion,
    ConnectionFailedError,
    NamedToolChoice,
    OpenAICompatibleBackend,
    ReasoningBudgetExhausted,
    ResponseFormat,
    ToolSpec,
    UserMessage,
    make_backend,
)
from ponder.backends.profiles import ProviderProfile

__all__ = ["Check", "DoctorReport", "Status", "diagnose", "doctor_main"]

Status = Literal["ok", "warn", "fail", "skip"]
EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_AUTH, EXIT_UNUSABLE = 0, 2, 3, 4, 5
_REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")
_RAW_TOOL_MARK = "tool▁calls"
_PING = ToolSpec(
    name="ping",
    description="Check that tools work. Call it when asked to.",
    parameters={"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
)
_JSON_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
}
_ALL_CHOICES = frozenset({"auto", "none", "required", "named"})
_ATTEMPTS = 3  # a single transient RemoteProtocolError must not fail a probe
_PROMPT_JSON = "ponder asks for JSON in the prompt and validates the answer locally"


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class DoctorReport:
    """What the probes found; ``exit_code`` is non-zero with a ``reason`` when unusable."""

    target: str
    profile: str
    checks: tuple[Check, ...]
    exit_code: int = EXIT_OK
    reason: str | None = None
    note: str | None = None
    """The summary line instead of the one made from the checks."""

    def check(self, name: str) -> Check:
        """The row called ``name``."""
        return next(c for c in self.checks if c.name == name)

    def table(self) -> str:
        """The report as a fixed-width text table."""
        width = max(len(c.name) for c in self.checks) if self.checks else 0
        lines = [f"ponder doctor: {self.target} (profile {self.profile})", ""]
        for c in self.checks:
            lines.append(f"  {c.name.ljust(width)}  {c.status.upper():4}  {c.detail}")
        lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        """One line a user can act on: usable or not, and what the warnings mean."""
        if self.reason:
            return f"unusable: {self.reason}"
        if self.note:
            return self.note
        warned = [c.name for c in self.checks if c.status == "warn"]
        if not warned:
            return "usable: ponder can run agents on this backend"
        return (
            "usable: ponder can run agents on this backend and works around what is "
            f"marked WARN ({', '.join(warned)})"
        )


def doctor_main(
    *,
    provider: str,
    base_url: str | None,
    model: str | None,
    api_key: str | None,
    local: bool = False,
) -> int:
    """Probe the backend (``local``: the in-process model), print the table, return the code.

    The probes provoke the server on purpose; the backend's own warnings about
    adjusting to its answers are muted here, the table says what was found.
    """
    backends_log = logging.getLogger("ponder.backends")
    level = backends_log.level
    backends_log.setLevel(logging.ERROR)
    try:
        if local:
            from ponder.cli.doctor_local import diagnose_local

            report = diagnose_local()
        else:
            report = asyncio.run(
                diagnose(provider=provider, base_url=base_url, model=model, api_key=api_key)
            )
    except ValueError as exc:
        print(f"ponder doctor: {exc}")
        return EXIT_USAGE
    finally:
        backends_log.setLevel(level)
    print(report.table())
    return report.exit_code


async def diagnose(
    *,
    provider: str = "auto",
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    request_timeout_s: float = 120.0,
) -> DoctorReport:
    """Run the probes; raises :class:`ValueError` for a configuration ponder cannot use."""
    recorder = _Recorder()
    async with httpx.AsyncClient(transport=recorder, timeout=request_timeout_s) as client:
        backend = make_backend(
            provider, base_url, model, api_key, http_client=client, max_retries=0
        )
        if not isinstance(backend, OpenAICompatibleBackend):
            raise ValueError("ponder doctor probes HTTP backends only")
        return await _Probe(backend, recorder, client, api_key).run()


@dataclass
class _Probe:
    backend: OpenAICompatibleBackend
    recorder: _Recorder
    client: httpx.AsyncClient
    api_key: str | None
    checks: list[Check] = field(default_factory=list)

    async def run(self) -> DoctorReport:
        profile = self.backend.profile
        target = f"{self.backend.base_url} model {self.backend.model}"
        failure = await self._models()
        if failure is None:
            failure = await self._chat()
        if failure is not None:
            code, reason = failure
            return DoctorReport(target, profile.name, tuple(self.checks), code, reason)
        await self._tools()
        await self._tool_choice()
        for mode in ("json_object", "json_schema"):
            await self._json(mode)
        self._profile_row(profile)
        return DoctorReport(target, profile.name, tuple(self.checks))

    # -- probes

    async def _models(self) -> tuple[int, str] | None:
        try:
            models = await self.backend.list_models()
        except ConnectionFailedError as exc:
            self._add("reachable", "fail", exc.message)
            return EXIT_UNREACHABLE, exc.message
        except AuthenticationError as exc:
            self._add("reachable", "ok", "the server answered")
            self._add("authentication", "fail", exc.message)
            return EXIT_AUTH, exc.message
        except BackendError as exc:
            self._add("reachable", "ok", "the server answered")
            self._add("models", "warn", f"could not list models: {exc.message}")
            return None
        self._add("reachable", "ok", "the server answered")
        shown = ", ".join(models[:5]) + (" …" if len(models) > 5 else "")
        if self.backend.model in models:
            self._add("models", "ok", f"{len(models)} offered, {self.backend.model} among them")
        else:
            self._add(
                "models", "warn", f"{self.backend.model} not listed (offered: {shown or '-'})"
            )
        return None

    async def _chat(self) -> tuple[int, str] | None:
        request = _ask("Reply with the single word: ok.", max_tokens=512)
        try:
            completion = await self._stream(self.backend, request)
        except ReasoningBudgetExhausted:
            completion = None
        except AuthenticationError as exc:
            self._add("chat", "fail", exc.message)
            return EXIT_AUTH, exc.message
        except BackendError as exc:
            self._add("chat", "fail", exc.message)
            code = EXIT_UNREACHABLE if isinstance(exc, ConnectionFailedError) else EXIT_UNUSABLE
            return code, f"a plain chat request failed: {exc.message}"
        raw = _scan(self.recorder.body)
        if completion is None:
            self._add("chat", "warn", "the model spent 512 tokens thinking and gave no answer")
        elif completion.content:
            self._add("chat", "ok", f"streamed an answer ({len(completion.content)} chars)")
        else:
            self._add("chat", "warn", "the answer was empty")
        self._add("reasoning", *_where_reasoning(raw, completion))
        self._add("think tags", *_think_style(raw))
        return None

    async def _tools(self) -> None:
        request = _ask("Call the ping tool with word 'hi'.", tools=(_PING,), max_tokens=512)
        try:
            completion = await self._stream(self.backend, request)
        except BackendError as exc:
            self._add("tool calls", "fail", exc.message)
            return
        raw = _scan(self.recorder.body)
        if not completion.tool_calls:
            self._add(
                "tool calls",
                "warn",
                "accepted, but the model called no tool (a chat template that does not "
                "render tools drops them from the prompt: serve one that does)",
            )
            return
        style = "native tool_calls" if raw.native_tools else "R1 raw tool tokens in the text"
        if raw.raw_tool_tokens and not raw.native_tools:
            style = "R1 raw tool tokens in the text, parsed by ponder"
        leaked = [m for m in self.backend.profile.leaked_tool_markers if m in raw.content]
        if leaked:
            style += f"; the server's {leaked[0]!r} text delta is dropped by ponder"
        self._add("tool calls", "ok", style)

    async def _tool_choice(self) -> None:
        results: list[str] = []
        statuses: list[Status] = []
        for label, choice in (("required", "required"), ("named", NamedToolChoice(name="ping"))):
            forced = self._variant(tool_choice_modes=_ALL_CHOICES)
            request = _ask("Say hello.", tools=(_PING,), tool_choice=choice, max_tokens=512)
            try:
                completion = await self._stream(forced, request)
            except BadRequestError:
                results.append(f"{label}: rejected")
                statuses.append("warn")
                continue
            except BackendError as exc:
                results.append(f"{label}: {exc.message}")
                statuses.append("warn")
                continue
            if label not in forced.profile.tool_choice_modes:  # a 400 made ponder drop it
                results.append(f"{label}: rejected")
                statuses.append("warn")
                continue
            called = any(c.name == "ping" for c in completion.tool_calls)
            verdict = "honoured" if called else "accepted, no call"
            if called and completion.content.strip():
                verdict += " (with free text before the call)"
            if label == "named" and forced.profile.named_tool_choice == "required_one":
                verdict += ', sent as "required" with only that tool (strings only)'
            results.append(f"{label}: {verdict}")
            statuses.append("ok" if called else "warn")
        self._add(
            "tool_choice", "ok" if all(s == "ok" for s in statuses) else "warn", "; ".join(results)
        )

    async def _json(self, mode: Literal["json_object", "json_schema"]) -> None:
        variant = self._variant(json_modes=frozenset({mode}), json_needs_word=True)
        fmt = ResponseFormat(type=mode, json_schema=_JSON_SCHEMA if mode == "json_schema" else None)
        request = _ask("Is the sky blue? Answer in JSON.", response_format=fmt, max_tokens=512)
        try:
            completion = await self._stream(variant, request)
        except BadRequestError as exc:
            self._add(mode, "warn", f"rejected: {exc.message}")
            return
        except BackendError as exc:
            self._add(mode, "warn", exc.message)
            return
        if mode not in variant.profile.json_modes:  # a 400 made ponder fall back
            if not variant.profile.json_modes:
                self._add(mode, "warn", f"rejected (no JSON grammar can start); {_PROMPT_JSON}")
            elif mode == "json_schema" and self._find("json_object").status == "ok":
                self._add(mode, "warn", "rejected; ponder falls back to json_object")
            else:
                self._add(mode, "warn", f"rejected; {_PROMPT_JSON}")
            return
        try:
            value = json.loads(completion.content)
        except json.JSONDecodeError:
            self._add(mode, "warn", "accepted, but the answer was not JSON")
            return
        shape = "a JSON object" if isinstance(value, dict) else "JSON but not an object"
        self._add(mode, "ok" if isinstance(value, dict) else "warn", f"accepted; answer is {shape}")

    def _profile_row(self, profile: ProviderProfile) -> None:
        notes: list[str] = []
        reasoning = self._find("reasoning")
        if reasoning.detail.startswith("inline") and not profile.inline_think:
            notes.append("reasoning arrives inline but this profile does not split <think>")
        choice = self._find("tool_choice").detail
        if "required: rejected" in choice and "required" in profile.tool_choice_modes:
            notes.append("the server rejects tool_choice=required; ponder will retry without it")
        if self._find("json_schema").detail.startswith("rejected") and (
            "json_schema" in profile.json_modes
        ):
            fallback = (
                "falls back to json_object"
                if self._find("json_object").status == "ok"
                else "asks for JSON in the prompt"
            )
            notes.append(f"json_schema is rejected; ponder {fallback}")
        detail = f"{profile.name}; override with --provider NAME"
        if notes:
            detail += " (" + "; ".join(notes) + ")"
        self._add("profile", "warn" if notes else "ok", detail)

    # -- helpers

    async def _stream(self, backend: OpenAICompatibleBackend, request: ChatRequest) -> Completion:
        attempt = 1
        while True:
            self.recorder.reset()
            completion: Completion | None = None
            try:
                async for event in backend.stream(request):
                    if isinstance(event, Completed):
                        completion = event.completion
            except (BrokenStreamError, ConnectionFailedError) as exc:
                transient = isinstance(exc, BrokenStreamError) or "Protocol" in exc.message
                if attempt >= _ATTEMPTS or not transient:
                    raise
                attempt += 1
                await asyncio.sleep(0.2 * attempt)
                continue
            assert completion is not None  # a stream always ends with Completed
            return completion

    def _variant(self, **changes: Any) -> OpenAICompatibleBackend:
        backend = self.backend
        return type(backend)(
            base_url=backend.base_url,
            model=backend.model,
            api_key=self.api_key,
            profile=backend.profile.with_overrides(**changes),
            http_client=self.client,
            max_retries=0,
        )

    def _add(self, name: str, status: Status, detail: str) -> None:
        self.checks.append(Check(name, status, detail))

    def _find(self, name: str) -> Check:
        return next((c for c in self.checks if c.name == name), Check(name, "skip", ""))


def _ask(text: str, **options: Any) -> ChatRequest:
    return ChatRequest(messages=(UserMessage(content=text),), **options)


# ------------------------------------------------------------- raw evidence


@dataclass
class _Raw:
    reasoning_fields: set[str] = field(default_factory=set)
    content: str = ""
    native_tools: bool = False

    @property
    def raw_tool_tokens(self) -> bool:
        return _RAW_TOOL_MARK in self.content.replace("_", "▁")


def _scan(body: bytes) -> _Raw:
    """What the server sent: SSE ``data:`` lines, NDJSON lines or one JSON body."""
    raw = _Raw()
    for line in body.decode("utf-8", "replace").splitlines():
        text = line.removeprefix("data:").strip()
        if not text.startswith("{"):
            continue
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            continue
        for part in _parts(payload):
            for name in _REASONING_FIELDS:
                if isinstance(part.get(name), str) and part[name]:
                    raw.reasoning_fields.add(name)
            if isinstance(part.get("content"), str):
                raw.content += part["content"]
            if part.get("tool_calls"):
                raw.native_tools = True
    return raw


def _parts(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        return []
    found = [payload["message"]] if isinstance(payload.get("message"), dict) else []
    for choice in payload.get("choices") or []:
        if isinstance(choice, dict):
            found += [choice[k] for k in ("delta", "message") if isinstance(choice.get(k), dict)]
    return found


def _where_reasoning(raw: _Raw, completion: Completion | None) -> tuple[Status, str]:
    if raw.reasoning_fields:
        return "ok", "in the field " + ", ".join(f"`{f}`" for f in sorted(raw.reasoning_fields))
    if "</think>" in raw.content:
        return "ok", "inline in the answer text, split out by ponder"
    if completion is not None and completion.reasoning:
        return "ok", "separated by ponder"
    return "warn", "none seen: the model did not think, or the server drops its reasoning"


def _think_style(raw: _Raw) -> tuple[Status, str]:
    if raw.reasoning_fields:
        return "ok", "none in the text: the server's reasoning parser removes them"
    if "<think>" in raw.content and "</think>" in raw.content:
        return "ok", "<think>…</think> in the text"
    if "</think>" in raw.content:
        return "ok", "only </think>: the prompt template opens the thought (R1-Distill style)"
    return "warn", "no think tags seen"


# -------------------------------------------------------------- recording


class _Recorder(httpx.AsyncBaseTransport):
    """An httpx transport that keeps the bytes of the latest response body."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._chunks: list[bytes] = []

    @property
    def body(self) -> bytes:
        return b"".join(self._chunks)

    def reset(self) -> None:
        self._chunks = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Tee(stream, self._chunks.append),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Tee(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, keep: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._keep = keep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._keep(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()
