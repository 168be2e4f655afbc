"""AG-UI: ``POST /agents/{agent}/ag-ui`` takes a ``RunAgentInput`` and streams AG-UI events.

The run's question is the input's last user message; its ``threadId`` is the
ponder thread, whose history the agent reads from its own memory (earlier
messages in the input are not replayed). Reasoning events are sent only when
the server allows reasoning and ``forwardedProps.include_reasoning`` is true.
A run paused for approval finishes with an ``interrupt`` outcome naming the
paused calls; decisions go to the native ``POST /runs/{run_id}/decisions``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from ag_ui.core import (
    BaseEvent,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
    UserMessage,
)
from ag_ui.encoder import EventEncoder
from fastapi import APIRouter, Depends

from ponder.agents import FinalEvent
from ponder.graphs import AnswerDelta, ReasoningEvent, ToolCallEvent, ToolResultEvent
from ponder.server.auth import BearerAuth
from ponder.server.runs import RunManager
from ponder.server.sse import EventStreamResponse
from ponder.server.ui_runs import (
    RunFailed,
    UiEvent,
    checked_question,
    checked_thread_id,
    ui_events,
)

__all__ = ["AguiTranslator", "agui_router"]


def agui_router(manager: RunManager, *, allow_reasoning: bool, auth: BearerAuth) -> APIRouter:
    """The AG-UI endpoint, behind ``auth``; one run per thread (409 when busy)."""
    router = APIRouter(dependencies=[Depends(auth)])

    @router.post("/agents/{agent}/ag-ui")
    async def run(agent: str, body: RunAgentInput) -> EventStreamResponse:
        manager.check_agent(agent)
        thread_id = checked_thread_id(body.thread_id)
        question = checked_question(_last_user_text(body))
        props = body.forwarded_props if isinstance(body.forwarded_props, dict) else {}
        show_reasoning = allow_reasoning and props.get("include_reasoning") is True
        claim = await manager.start(agent, thread_id, question)
        events = ui_events(
            manager, agent, question, claim, run_id=claim.run_id, show_reasoning=show_reasoning
        )
        return EventStreamResponse(
            _frames(events, AguiTranslator(thread_id, body.run_id)), on_close=claim.release
        )

    return router


def _last_user_text(body: RunAgentInput) -> str | None:
    for message in reversed(body.messages):
        if isinstance(message, UserMessage):
            if isinstance(message.content, str):
                return message.content
            texts = [getattr(part, "text", None) for part in message.content]
            return "".join(t for t in texts if isinstance(t, str))
    return None


async def _frames(
    events: AsyncGenerator[UiEvent, None], translator: AguiTranslator
) -> AsyncGenerator[bytes, None]:
    encoder = EventEncoder()
    try:
        for started in translator.start():
            yield encoder.encode(started).encode("utf-8")
        async for event in events:
            for out in translator.translate(event):
                yield encoder.encode(out).encode("utf-8")
    finally:
        await events.aclose()


def _interrupt(call: dict[str, Any]) -> Interrupt:
    """A paused tool call as an AG-UI interrupt (decide it with ``POST /runs/{id}/decisions``)."""
    return Interrupt(
        id=call["call_id"],
        reason="tool_approval",
        tool_call_id=call["call_id"],
        message=call.get("intent") or None,
    )


class AguiTranslator:
    """Turns one run's ponder events into AG-UI events, opening and closing messages."""

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self._text: str | None = None
        self._reasoning: str | None = None
        self._streamed = False

    def start(self) -> list[BaseEvent]:
        return [RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id)]

    def translate(self, event: UiEvent) -> list[BaseEvent]:
        if isinstance(event, ReasoningEvent):
            return self._reasoning_delta(event.text)
        if isinstance(event, AnswerDelta):
            return self._text_delta(event.text)
        out = self._close()
        if isinstance(event, ToolCallEvent):
            out += [
                ToolCallStartEvent(tool_call_id=event.id, tool_call_name=event.name),
                ToolCallArgsEvent(tool_call_id=event.id, delta=json.dumps(event.arguments)),
                ToolCallEndEvent(tool_call_id=event.id),
            ]
        elif isinstance(event, ToolResultEvent):
            out.append(
                ToolCallResultEvent(
                    message_id=uuid.uuid4().hex,
                    tool_call_id=event.id,
                    content=event.output,
                    role="tool",
                )
            )
        elif isinstance(event, FinalEvent):
            text = event.result.answer_text
            if not self._streamed and text:
                out += self._text_delta(text) + self._close()
            result: dict[str, Any] = event.result.to_json_dict()
            finished = RunFinishedEvent(thread_id=self.thread_id, run_id=self.run_id, result=result)
            if result["outcome"] == "awaiting_approval" and result.get("pending"):
                finished.outcome = RunFinishedInterruptOutcome(
                    interrupts=[_interrupt(call) for call in result["pending"]]
                )
            out.append(finished)
        elif isinstance(event, RunFailed):
            out.append(RunErrorEvent(message=event.message, code=event.kind))
        return out

    def _reasoning_delta(self, delta: str) -> list[BaseEvent]:
        if not delta:
            return []
        out = self._close_text()
        if self._reasoning is None:
            self._reasoning = uuid.uuid4().hex
            out += [
                ReasoningStartEvent(message_id=self._reasoning),
                ReasoningMessageStartEvent(message_id=self._reasoning, role="reasoning"),
            ]
        out.append(ReasoningMessageContentEvent(message_id=self._reasoning, delta=delta))
        return out

    def _text_delta(self, delta: str) -> list[BaseEvent]:
        if not delta:
            return []
        out = self._close_reasoning()
        if self._text is None:
            self._text = uuid.uuid4().hex
            out.append(TextMessageStartEvent(message_id=self._text, role="assistant"))
        self._streamed = True
        out.append(TextMessageContentEvent(message_id=self._text, delta=delta))
        return out

    def _close(self) -> list[BaseEvent]:
        return self._close_reasoning() + self._close_text()

    def _close_text(self) -> list[BaseEvent]:
        if self._text is None:
            return []
        closed: list[BaseEvent] = [TextMessageEndEvent(message_id=self._text)]
        self._text = None
        return closed

    def _close_reasoning(self) -> list[BaseEvent]:
        if self._reasoning is None:
            return []
        mid, self._reasoning = self._reasoning, None
        return [ReasoningMessageEndEvent(message_id=mid), ReasoningEndEvent(message_id=mid)]
