"""What the UI protocols share: one run's events, reasoning filtered, failures as a value."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from ponder.agents.agent import AgentEvent
from ponder.backends.errors import BackendError
from ponder.graphs import ErrorEvent, ReasoningEvent
from ponder.server.errors import ApiError
from ponder.server.model_errors import public_model_error
from ponder.server.models import ThreadId
from ponder.server.runs import RunManager, ThreadClaim

__all__ = ["RunFailed", "UiEvent", "checked_question", "checked_thread_id", "ui_events"]

logger = logging.getLogger("ponder.server")
_THREAD_ID: TypeAdapter[str] = TypeAdapter(ThreadId)


@dataclass(frozen=True)
class RunFailed:
    """The run ended with an error; ``message`` is safe to show to the client."""

    kind: str
    message: str


UiEvent = AgentEvent | RunFailed


def checked_thread_id(value: str) -> str:
    """``value`` if it is a valid thread id, else 422."""
    try:
        return _THREAD_ID.validate_python(value)
    except ValidationError:
        raise ApiError(
            422, "invalid_request", "invalid thread id: 1-200 characters, no '/' or NUL"
        ) from None


def checked_question(text: str | None) -> str:
    """The question of a UI request, or 422 when there is none."""
    if text is None or not text.strip():
        raise ApiError(422, "invalid_request", "the request has no user message with text")
    return text


async def ui_events(
    manager: RunManager,
    agent: str,
    question: str,
    claim: ThreadClaim,
    *,
    run_id: str,
    show_reasoning: bool,
) -> AsyncGenerator[UiEvent, None]:
    """The run's events for a UI stream.

    Reasoning is dropped unless ``show_reasoning``; a backend error (its text
    without the backend's address) or any other failure ("run failed") ends
    the events with one :class:`RunFailed` instead of raising. Closing this
    iterator cancels the run (nothing is saved).
    """
    claim.attach()
    error: ErrorEvent | None = None  # the exception it announces follows it
    try:
        async with aclosing(manager.events(agent, question, claim, run_id=run_id)) as events:
            async for event in events:
                if isinstance(event, ReasoningEvent) and not show_reasoning:
                    continue
                if isinstance(event, ErrorEvent):
                    error = event
                    continue
                yield event
    except BackendError as exc:
        yield RunFailed(kind=type(exc).__name__, message=public_model_error(exc))
        return
    except Exception as exc:
        logger.error("run %s failed: %s", run_id, type(exc).__name__)
        yield RunFailed(kind=type(exc).__name__, message="run failed")
        return
    if error is not None:
        yield RunFailed(kind=error.kind, message="run failed")
