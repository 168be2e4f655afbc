"""The spans of one run: ``invoke_agent``; a ``chat`` per model call; an ``execute_tool`` per call.

Names and attributes follow the OpenTelemetry GenAI semantic conventions;
ponder's own attributes carry a ``ponder.`` prefix. Exceptions are recorded
here, never with ``Span.record_exception``: the message is withheld unless
content capture is on, and then has this run's reasoning scrubbed out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ponder import __version__
from ponder.backends.protocol import ChatBackend
from ponder.backends.types import ChatRequest, Completion, Usage
from ponder.telemetry.content import (
    Scrubber,
    dumps,
    finish_reason,
    input_messages,
    output_messages,
)
from ponder.telemetry.metrics import Instruments, instruments_for
from ponder.telemetry.settings import TelemetrySettings

__all__ = ["ChatCall", "RunTrace"]

_BUDGETS = frozenset({"max_steps", "max_tool_calls", "max_tokens", "wall_time", "invalid_json"})
_PROVIDERS = {
    "deepseek": "deepseek",
    "deepseek-r1": "deepseek",
    "openai": "openai",
    "ollama-native": "ollama",
}
"""ponder profile → ``gen_ai.provider.name`` (the conventions' value where one is defined)."""


class _Result(Protocol):
    """What a finished run reports (a :class:`~ponder.agents.RunResult`)."""

    @property
    def outcome(self) -> str: ...
    @property
    def steps(self) -> int: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def thinking_skipped(self) -> bool: ...
    @property
    def answer_text(self) -> str | None: ...
    @property
    def tool_calls(self) -> Sequence[Any]: ...


class _ToolResult(Protocol):
    call_id: str
    name: str
    arguments: Any
    output: str
    ok: bool
    error_kind: str | None
    duration_s: float


def _server(backend: ChatBackend) -> dict[str, Any]:
    base = getattr(backend, "base_url", None)
    if not isinstance(base, str):
        return {}
    parts = urlsplit(base)
    if not parts.hostname:
        return {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname, "server.port": port}


def _usage_attributes(usage: Usage, *, cache: bool = True) -> dict[str, int]:
    attributes = {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
    }
    if usage.reasoning_tokens is not None:
        attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    if cache and usage.cached_tokens is not None:
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
    return attributes


def _frames(error: BaseException) -> str:
    """The traceback's frames (code locations and lines), without the message."""
    return "".join(traceback.format_tb(error.__traceback__))


class RunTrace:
    """One run's ``invoke_agent`` span and what its child spans share."""

    def __init__(
        self,
        settings: TelemetrySettings,
        *,
        agent_name: str,
        backend: ChatBackend,
        thread_id: str,
        question: str,
    ) -> None:
        provider = settings.tracer_provider or trace.get_tracer_provider()
        self.settings = settings
        self.tracer = provider.get_tracer("ponder", __version__)
        self.metrics: Instruments = instruments_for(settings.meter_provider)
        self.scrubber = (
            Scrubber() if settings.capture_content and not settings.reasoning_captured else None
        )
        self.backend = backend
        self.base = {
            "gen_ai.provider.name": _PROVIDERS.get(backend.profile.name, backend.profile.name),
            "gen_ai.request.model": backend.model,
            **_server(backend),
        }
        # the invoke-agent internal span carries no provider or server (conventions #289)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent_name,
            "gen_ai.conversation.id": thread_id,
            "gen_ai.request.model": backend.model,
        }
        if settings.capture_content:
            message = {"role": "user", "parts": [{"type": "text", "content": question}]}
            attributes["gen_ai.input.messages"] = dumps([message])
        self.span = self.tracer.start_span(
            f"invoke_agent {agent_name}",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self.context = trace.set_span_in_context(self.span)
        self.retries = 0
        self.corrections: list[str] = []
        self.ended = False

    # ------------------------------------------------------------ safe text

    def safe_text(self, text: str) -> str | None:
        """Free text of unknown origin (an error message): ``None`` without content
        capture, else with this run's reasoning scrubbed out unless that is captured."""
        if not self.settings.capture_content:
            return None
        if self.settings.reasoning_captured or self.scrubber is None:
            return text
        return self.scrubber.scrub(text)

    def record_error(self, span: Span, error: BaseException) -> str:
        """Mark ``span`` failed by ``error`` and add an exception event; returns ``error.type``."""
        if isinstance(error, asyncio.CancelledError | GeneratorExit):
            span.set_attribute("error.type", "cancelled")
            span.set_status(Status(StatusCode.ERROR, "cancelled"))
            return "cancelled"
        kind = type(error).__name__
        event: dict[str, Any] = {
            "exception.type": f"{type(error).__module__}.{type(error).__qualname__}",
            "exception.stacktrace": _frames(error),
        }
        message = self.safe_text(str(error))
        if message is not None:
            event["exception.message"] = message
        status = getattr(error, "status_code", None)
        if isinstance(status, int):
            event["ponder.error.status_code"] = status
        span.add_event("exception", event)
        span.set_attribute("error.type", kind)
        span.set_status(Status(StatusCode.ERROR, kind))
        return kind

    # ------------------------------------------------------------ the run

    def finish(self, result: _Result, *, json_retries: int) -> None:
        """End the run span with its outcome, budgets and totals."""
        if self.ended:
            return
        self.ended = True
        span = self.span
        attributes: dict[str, Any] = {
            "ponder.outcome": result.outcome,
            "ponder.steps": result.steps,
            "ponder.tool_calls": len(result.tool_calls),
            "ponder.think_skipped": result.thinking_skipped,
            "ponder.retries": self.retries,
            "ponder.json_retries": json_retries,
            "ponder.profile_corrections": len(self.corrections),
            **_usage_attributes(result.usage, cache=False),
        }
        if self.corrections:
            attributes["ponder.profile_corrected_fields"] = sorted(set(self.corrections))
        if result.outcome in _BUDGETS:
            attributes["ponder.budget"] = result.outcome
        if self.settings.capture_content and result.answer_text:
            part = {"type": "text", "content": result.answer_text}
            attributes["gen_ai.output.messages"] = dumps(
                [{"role": "assistant", "parts": [part], "finish_reason": "stop"}]
            )
        span.set_attributes(attributes)
        if json_retries:
            self.metrics.retries.add(json_retries, {**self.base, "ponder.retry.kind": "json"})
        self.metrics.outcomes.add(1, {**self.base, "ponder.outcome": result.outcome})
        span.end()

    def fail(self, error: BaseException) -> None:
        """End the run span after an error or a cancellation."""
        if self.ended:
            return
        self.ended = True
        kind = self.record_error(self.span, error)
        outcome = "cancelled" if kind == "cancelled" else "error"
        self.span.set_attributes({"ponder.outcome": outcome, "ponder.retries": self.retries})
        self.metrics.outcomes.add(1, {**self.base, "ponder.outcome": outcome})
        self.span.end()

    def chat(self, request: ChatRequest, step: int) -> ChatCall:
        return ChatCall(self, request, step)

    def tools_ran(self, results: Sequence[_ToolResult], started_ns: int, step: int) -> None:
        """One ``execute_tool`` span per finished call (all started at ``started_ns``)."""
        for result in results:
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": result.name,
                "gen_ai.tool.call.id": result.call_id,
                "gen_ai.tool.type": "function",
                "ponder.step": step,
                "ponder.tool.ok": result.ok,
            }
            if self.settings.capture_content:
                attributes["gen_ai.tool.call.arguments"] = dumps(result.arguments)
                if result.ok:
                    attributes["gen_ai.tool.call.result"] = result.output
            output = None if result.ok else self.safe_text(result.output)
            span = self.tracer.start_span(
                f"execute_tool {result.name}",
                context=self.context,
                kind=SpanKind.INTERNAL,
                attributes=attributes,
                start_time=started_ns,
                record_exception=False,
                set_status_on_exception=False,
            )
            if not result.ok:
                kind = result.error_kind or "_OTHER"
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, output if output is not None else kind))
                self.metrics.tool_errors.add(
                    1, {"error.type": kind, "gen_ai.tool.name": result.name}
                )
            span.end(end_time=started_ns + int(result.duration_s * 1e9))


class ChatCall:
    """One model call's ``chat`` span (an async context manager around the stream)."""

    def __init__(self, run: RunTrace, request: ChatRequest, step: int) -> None:
        self.run = run
        self.request = request
        self.step = step
        self.completion: Completion | None = None
        self.retries = 0
        self.first_chunk_s: float | None = None
        self._token: object = None

    async def __aenter__(self) -> ChatCall:
        run, request = self.run, self.request
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            **run.base,
            "gen_ai.request.stream": True,
            "gen_ai.output.type": "text" if request.response_format is None else "json",
            "ponder.step": self.step,
        }
        for name, value in (
            ("gen_ai.request.temperature", request.temperature),
            ("gen_ai.request.top_p", request.top_p),
            ("gen_ai.request.max_tokens", request.max_tokens),
            ("gen_ai.request.seed", request.seed),
        ):
            if value is not None:
                attributes[name] = value
        if run.settings.capture_content:
            messages = input_messages(
                request.messages, with_reasoning=run.settings.reasoning_captured
            )
            attributes["gen_ai.input.messages"] = dumps(messages)
        self.span = run.tracer.start_span(
            f"chat {run.backend.model}",
            context=run.context,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._token = otel_context.attach(trace.set_span_in_context(self.span, run.context))
        self._profile = run.backend.profile
        self._started = time.perf_counter()
        return self

    def watch(self, writer: Callable[[Any], None]) -> Callable[[Any], None]:
        """``writer``, noting first-chunk time, retries and (for scrubbing) reasoning."""
        scrubber = self.run.scrubber

        def watched(event: Any) -> None:
            kind = getattr(event, "type", None)
            if kind in ("reasoning", "answer_delta"):
                if self.first_chunk_s is None:
                    self.first_chunk_s = time.perf_counter() - self._started
                if kind == "reasoning" and scrubber is not None:
                    scrubber.add(event.text)
            elif kind == "retry":
                self._retried(event)
            writer(event)

        return watched

    def _retried(self, event: Any) -> None:
        self.retries += 1
        attributes: dict[str, Any] = {
            "ponder.retry.attempt": event.attempt,
            "ponder.retry.delay_s": event.delay_s,
        }
        reason = self.run.safe_text(event.reason)
        if reason is not None:
            attributes["ponder.retry.reason"] = reason
        self.span.add_event("ponder.retry", attributes)

    def done(self, completion: Completion) -> None:
        """The call's completion (recorded when the span ends)."""
        self.completion = completion

    async def __aexit__(self, exc_type: object, error: BaseException | None, tb: object) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]
        run, span = self.run, self.span
        duration = time.perf_counter() - self._started
        if run.scrubber is not None:
            run.scrubber.end_thought()
        metric = dict(run.base, **{"gen_ai.operation.name": "chat"})
        span.set_attribute("ponder.retries", self.retries)
        if self.retries:
            run.retries += self.retries
            run.metrics.retries.add(self.retries, {**run.base, "ponder.retry.kind": "transport"})
        self._note_corrections()
        if self.first_chunk_s is not None:
            span.set_attribute("gen_ai.response.time_to_first_chunk", self.first_chunk_s)
        if error is not None:
            metric["error.type"] = run.record_error(span, error)
        elif self.completion is not None:
            self._record(self.completion, metric)
        run.metrics.duration.record(duration, metric)
        span.end()

    def _record(self, completion: Completion, metric: dict[str, Any]) -> None:
        run, span = self.run, self.span
        attributes: dict[str, Any] = {
            "gen_ai.response.finish_reasons": [finish_reason(completion.finish_reason)],
            "ponder.think_skipped": completion.thinking_skipped,
            "ponder.tool_calls": len(completion.tool_calls),
        }
        if completion.model:
            attributes["gen_ai.response.model"] = completion.model
            metric["gen_ai.response.model"] = completion.model
        if completion.usage is not None:
            attributes.update(_usage_attributes(completion.usage))
            run.metrics.token_usage.record(
                completion.usage.prompt_tokens, {**metric, "gen_ai.token.type": "input"}
            )
            run.metrics.token_usage.record(
                completion.usage.completion_tokens, {**metric, "gen_ai.token.type": "output"}
            )
        if run.settings.capture_content:
            messages = output_messages(completion, with_reasoning=run.settings.reasoning_captured)
            attributes["gen_ai.output.messages"] = dumps(messages)
        span.set_attributes(attributes)
        if completion.thinking_skipped:
            run.metrics.think_skips.add(1, metric)

    def _note_corrections(self) -> None:
        now = self.run.backend.profile
        if now is self._profile or not dataclasses.is_dataclass(now):
            return
        changed = [
            f.name
            for f in dataclasses.fields(now)
            if getattr(now, f.name) != getattr(self._profile, f.name, None)
        ]
        if changed:
            self.run.corrections.extend(changed)
            self.span.set_attribute("ponder.profile_corrected_fields", changed)
