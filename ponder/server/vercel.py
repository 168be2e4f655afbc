"""The Vercel AI SDK UI message stream: ``POST /agents/{agent}/ui-message-stream``.

Speaks what the ``ai`` package's ``DefaultChatTransport`` (``useChat``) sends
and reads: a body ``{id, messages, trigger, messageId, ...}`` in; SSE frames
``data: {chunk}`` out with the header ``x-vercel-ai-ui-message-stream: v1``,
ending with ``data: [DONE]``. The chat ``id`` is the ponder thread; the
question is the last user message's text (the agent reads earlier turns from
its own memory). Reasoning parts are sent only when the server allows
reasoning and the body sets ``include_reasoning: true``. ponder's tools run
on the server, so their parts are ``dynamic`` tool parts; a run paused for
approval sends a ``data-ponder-approval`` part (its ``run_id`` and calls) to
decide with the native ``POST /runs/{run_id}/decisions``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

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

__all__ = ["UI_MESSAGE_STREAM_HEADERS", "UIChatRequest", "VercelTranslator", "vercel_router"]

UI_MESSAGE_STREAM_HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}
_FINISH_REASONS = {"answered": "stop", "max_tokens": "length", "awaiting_approval": "tool-calls"}
Chunk = dict[str, Any]


class UIMessagePart(BaseModel):
    """One part of a UI message; only ``text`` parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class UIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = ""
    role: Literal["system", "user", "assistant"]
    parts: list[UIMessagePart] = Field(default_factory=list)


class UIChatRequest(BaseModel):
    """The body ``DefaultChatTransport`` posts; ``trigger``, ``messageId`` etc. are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str
    messages: list[UIMessage] = Field(min_length=1)
    include_reasoning: bool = False

    def question(self) -> str | None:
        for message in reversed(self.messages):
            if message.role == "user":
                return "".join(p.text or "" for p in message.parts if p.type == "text")
        return None


def vercel_router(manager: RunManager, *, allow_reasoning: bool, auth: BearerAuth) -> APIRouter:
    """The UI message stream endpoint, behind ``auth``; one run per thread (409 when busy)."""
    router = APIRouter(dependencies=[Depends(auth)])

    @router.post("/agents/{agent}/ui-message-stream")
    async def run(agent: str, body: UIChatRequest) -> EventStreamResponse:
        manager.check_agent(agent)
        thread_id = checked_thread_id(body.id)
        question = checked_question(body.question())
        claim = await manager.start(agent, thread_id, question)
        events = ui_events(
            manager,
            agent,
            question,
            claim,
            run_id=claim.run_id,
            show_reasoning=allow_reasoning and body.include_reasoning,
        )
        response = EventStreamResponse(_frames(events, VercelTranslator()), on_close=claim.release)
        response.headers.update(UI_MESSAGE_STREAM_HEADERS)
        return response

    return router


async def _frames(
    events: AsyncGenerator[UiEvent, None], translator: VercelTranslator
) -> AsyncGenerator[bytes, None]:
    try:
        for chunk in translator.start():
            yield _sse(chunk)
        async for event in events:
            for chunk in translator.translate(event):
                yield _sse(chunk)
        yield b"data: [DONE]\n\n"
    finally:
        await events.aclose()


def _sse(chunk: Chunk) -> bytes:
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()


class VercelTranslator:
    """Turns one run's ponder events into UI message chunks, one step per model call."""

    def __init__(self) -> None:
        self._step: int | None = None
        self._text: str | None = None
        self._reasoning: str | None = None
        self._streamed = False

    def start(self) -> list[Chunk]:
        return [{"type": "start", "messageId": uuid.uuid4().hex}]

    def translate(self, event: UiEvent) -> list[Chunk]:
        if isinstance(event, RunFailed):
            return [
                *self._finish_step(),
                {"type": "error", "errorText": event.message},
                {"type": "finish", "finishReason": "error"},
            ]
        if isinstance(event, FinalEvent):
            return self._final(event)
        out = self._enter_step(event.step)
        if isinstance(event, ReasoningEvent) and event.text:
            out += self._close_text()
            if self._reasoning is None:
                self._reasoning = uuid.uuid4().hex
                out.append({"type": "reasoning-start", "id": self._reasoning})
            out.append({"type": "reasoning-delta", "id": self._reasoning, "delta": event.text})
        elif isinstance(event, AnswerDelta) and event.text:
            out += self._text_delta(event.text)
        elif isinstance(event, ToolCallEvent):
            out += self._close()
            call = {"toolCallId": event.id, "toolName": event.name, "dynamic": True}
            out += [
                {"type": "tool-input-start", **call},
                {"type": "tool-input-available", **call, "input": event.arguments},
            ]
        elif isinstance(event, ToolResultEvent):
            out += self._close()
            if event.ok:
                out.append(
                    {
                        "type": "tool-output-available",
                        "toolCallId": event.id,
                        "output": event.output,
                        "dynamic": True,
                    }
                )
            else:
                out.append(
                    {
                        "type": "tool-output-error",
                        "toolCallId": event.id,
                        "errorText": event.output,
                        "dynamic": True,
                    }
                )
        return out

    def _final(self, event: FinalEvent) -> list[Chunk]:
        result = event.result
        out: list[Chunk] = []
        if not self._streamed and result.answer_text:
            out += self._enter_step(max(result.steps, 1)) + self._text_delta(result.answer_text)
        out += self._finish_step()
        payload = result.to_json_dict()
        if payload["outcome"] == "awaiting_approval" and payload.get("pending"):
            approval = {"run_id": payload.get("run_id"), "calls": payload["pending"]}
            out.append({"type": "data-ponder-approval", "data": approval})
        metadata = {k: payload[k] for k in ("thread_id", "outcome", "steps", "usage")}
        reason = _FINISH_REASONS.get(payload["outcome"], "other")
        out.append({"type": "finish", "finishReason": reason, "messageMetadata": metadata})
        return out

    def _text_delta(self, delta: str) -> list[Chunk]:
        out = self._close_reasoning()
        if self._text is None:
            self._text = uuid.uuid4().hex
            out.append({"type": "text-start", "id": self._text})
        self._streamed = True
        out.append({"type": "text-delta", "id": self._text, "delta": delta})
        return out

    def _enter_step(self, step: int) -> list[Chunk]:
        if step == self._step:
            return []
        out = self._finish_step()
        self._step = step
        out.append({"type": "start-step"})
        return out

    def _finish_step(self) -> list[Chunk]:
        if self._step is None:
            return []
        out = [*self._close(), {"type": "finish-step"}]
        self._step = None
        return out

    def _close(self) -> list[Chunk]:
        return self._close_reasoning() + self._close_text()

    def _close_text(self) -> list[Chunk]:
        if self._text is None:
            return []
        closed = [{"type": "text-end", "id": self._text}]
        self._text = None
        return closed

    def _close_reasoning(self) -> list[Chunk]:
        if self._reasoning is None:
            return []
        closed = [{"type": "reasoning-end", "id": self._reasoning}]
        self._reasoning = None
        return closed
