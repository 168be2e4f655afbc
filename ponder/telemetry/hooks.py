"""The calls the agent and the graph nodes make; each costs a look-up when tracing is off.

The agent starts a run's trace (:func:`start_run`) and runs its graph in
:func:`run_context`; nodes find the trace there through a context variable,
so no graph state or signature carries it. OpenTelemetry is imported only
once tracing is on.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ponder.telemetry import settings as _settings

if TYPE_CHECKING:
    from ponder.backends.protocol import ChatBackend
    from ponder.backends.types import ChatRequest, Completion
    from ponder.telemetry.spans import ChatCall, RunTrace

__all__ = [
    "chat",
    "fail_run",
    "finish_run",
    "run_context",
    "start_run",
    "tool_clock",
    "tools_ran",
]

_RUN: contextvars.ContextVar[RunTrace | None] = contextvars.ContextVar("ponder_run", default=None)
_SDK_FREE = frozenset(
    {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}
)


def _tracing_on(settings: _settings.TelemetrySettings) -> bool:
    if settings.enabled is not None:
        return settings.enabled
    if settings.tracer_provider is not None or settings.meter_provider is not None:
        return True
    if not _settings.otel_loaded():
        return False
    from opentelemetry import metrics, trace

    providers = (trace.get_tracer_provider(), metrics.get_meter_provider())
    return any(type(provider).__name__ not in _SDK_FREE for provider in providers)


def start_run(
    agent: object, backend: ChatBackend, thread_id: str, question: str
) -> RunTrace | None:
    """The run's trace (its ``invoke_agent`` span started), or ``None`` when tracing is off."""
    settings = _settings.current()
    if not _tracing_on(settings):
        return None
    from ponder.telemetry.spans import RunTrace

    name = getattr(agent, "name", None) or type(agent).__name__.lstrip("_")
    return RunTrace(
        settings, agent_name=name, backend=backend, thread_id=thread_id, question=question
    )


def run_context(run: RunTrace | None) -> contextvars.Context | None:
    """A context for the task that runs the graph: the run's trace and span are current there."""
    if run is None:
        return None
    context = contextvars.copy_context()
    context.run(_enter, run)
    return context


def _enter(run: RunTrace) -> None:
    from opentelemetry import context as otel_context

    _RUN.set(run)
    otel_context.attach(run.context)


def finish_run(run: RunTrace | None, result: Any, state: Mapping[str, Any]) -> None:
    """End the run's span with its result (``state``: the graph's last state)."""
    if run is not None:
        run.finish(result, json_retries=int(state.get("json_retries", 0) or 0))


def fail_run(run: RunTrace | None, error: BaseException) -> None:
    """End the run's span after an error, or a cancellation by the caller."""
    if run is not None:
        run.fail(error)


class _NoChat:
    """What :func:`chat` returns when tracing is off: does nothing, costs nothing."""

    async def __aenter__(self) -> _NoChat:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def watch(self, writer: Callable[[Any], None]) -> Callable[[Any], None]:
        return writer

    def done(self, completion: Completion) -> None:
        return None


_NO_CHAT = _NoChat()


def chat(request: ChatRequest, step: int) -> ChatCall | _NoChat:
    """An async context manager spanning one model call (``chat`` span)."""
    run = _RUN.get()
    return _NO_CHAT if run is None else run.chat(request, step)


def tool_clock() -> int:
    """The time tool calls start (ns since the epoch), or 0 when tracing is off."""
    return 0 if _RUN.get() is None else time.time_ns()


def tools_ran(results: Sequence[Any], started_ns: int, step: int) -> None:
    """Record one ``execute_tool`` span per result of a batch started at ``started_ns``."""
    run = _RUN.get()
    if run is not None and started_ns:
        run.tools_ran(results, started_ns, step)
