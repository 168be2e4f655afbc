"""An OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models``.

``model`` names the agent. The last message must come from the user and is
the question. With the ponder extension field ``thread_id`` the thread's
stored history is the context and earlier request messages are ignored;
without it, earlier messages are folded into the question as a quoted
transcript and the run starts a new thread. Either way the thread id comes
back in the ``X-Ponder-Thread-Id`` header and the ``ponder`` field.

Clients' ``reasoning_content`` is never read, and reasoning markers are
stripped from every message. Reasoning is sent back as ``reasoning_content``
only when the server allows it and the request sets ``include_reasoning``.
Tool activity appears only as a summary (tool names and whether they
succeeded) in the ``ponder`` field, never as OpenAI ``tool_calls``, which
would ask the client to run them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ponder.agents import FinalEvent, RunResult
from ponder.backends.errors import BackendError
from ponder.graphs import AnswerDelta, ReasoningEvent, RetryEvent
from ponder.memory import strip_reasoning
from ponder.server.auth import BearerAuth
from ponder.server.model_errors import public_model_error
from ponder.server.models import ThreadId
from ponder.server.runs import ClientDisconnected, RunManager, ThreadClaim, unless_disconnected
from ponder.server.sse import EventStreamResponse, sse_frame

__all__ = ["ChatCompletionRequest", "ChatMessage", "openai_router"]

THREAD_HEADER = "X-Ponder-Thread-Id"


class ChatMessage(BaseModel):
    """A request message; unknown fields (``reasoning_content`` included) are dropped."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        texts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ValueError("only text content parts are supported")
            texts.append(str(part.get("text", "")))
        return "".join(texts)

    @property
    def text(self) -> str:
        """The content with any reasoning removed."""
        return strip_reasoning(self.content or "")


_INSTRUCTION_ROLES = frozenset({"system", "developer"})


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The subset of the OpenAI request ponder honours; sampling fields are ignored.

    Extensions: ``thread_id`` (continue a stored thread) and
    ``include_reasoning`` (ask for ``reasoning_content``).
    """

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: int = 1
    tools: list[dict[str, Any]] | None = None
    thread_id: ThreadId | None = None
    include_reasoning: bool = False

    @model_validator(mode="after")
    def _check(self) -> ChatCompletionRequest:
        if self.n != 1:
            raise ValueError("n must be 1")
        if self.tools:
            raise ValueError("client-side tools are not supported; the agent uses its own tools")
        last = self.messages[-1]
        if last.role != "user":
            raise ValueError("the last message must have role 'user'")
        if not last.text.strip():
            raise ValueError("the last user message is blank")
        return self

    def instructions(self) -> str | None:
        """The ``system`` / ``developer`` messages (e.g. the Agents SDK's
        ``instructions``), for the agent's own system message; ``None`` if none."""
        texts = [m.text.strip() for m in self.messages if m.role in _INSTRUCTION_ROLES]
        return "\n\n".join(t for t in texts if t) or None

    def question(self) -> str:
        """The last user message, with earlier turns folded in when there is no thread."""
        last = self.messages[-1].text
        earlier = [
            m for m in self.messages[:-1] if m.role in ("user", "assistant") and m.text.strip()
        ]
        if self.thread_id is not None or not earlier:
            return last
        transcript = "\n\n".join(f"[{m.role}]\n{m.text.strip()}" for m in earlier)
        return f"Earlier conversation, for context:\n\n{transcript}\n\nCurrent question:\n{last}"


def openai_router(manager: RunManager, *, allow_reasoning: bool, auth: BearerAuth) -> APIRouter:
    """Routes under ``/v1``, all behind ``auth``."""
    router = APIRouter(prefix="/v1", dependencies=[Depends(auth)])
    created = int(time.time())

    @router.get("/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": created, "owned_by": "ponder"}
                for name in manager.names
            ],
        }

    @router.post("/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        manager.check_agent(body.model)
        claim = await manager.start(body.model, body.thread_id or uuid.uuid4().hex, body.question())
        show_reasoning = allow_reasoning and body.include_reasoning
        headers = {THREAD_HEADER: claim.thread_id}
        run_id = f"chatcmpl-{claim.run_id}"
        if body.stream:
            frames = _chunks(manager, body, claim, run_id, show_reasoning=show_reasoning)
            response = EventStreamResponse(frames, on_close=claim.release)
            response.headers.update(headers)
            return response
        claim.attach()
        try:
            work = manager.result(
                body.model,
                body.question(),
                claim,
                run_id=claim.run_id,
                instructions=body.instructions(),
            )
            result = await unless_disconnected(work, request.receive)
        except ClientDisconnected:
            return Response(status_code=499)
        finally:
            claim.release()
        message: dict[str, Any] = {"role": "assistant", "content": result.answer_text or ""}
        if show_reasoning:
            message["reasoning_content"] = result.reasoning
        completion = {
            "id": run_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(result)}],
            "usage": _usage(result),
            "ponder": _summary(result),
        }
        return JSONResponse(completion, headers=headers)

    return router


async def _chunks(
    manager: RunManager,
    body: ChatCompletionRequest,
    claim: ThreadClaim,
    run_id: str,
    *,
    show_reasoning: bool,
) -> AsyncGenerator[bytes, None]:
    claim.attach()
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse_frame(
            {
                "id": run_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.model,
                "choices": [choice],
                **extra,
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    content = _ContentDeduper()
    try:
        events = manager.events(
            body.model,
            body.question(),
            claim,
            run_id=claim.run_id,
            instructions=body.instructions(),
        )
        async with aclosing(events) as stream:
            async for event in stream:
                if isinstance(event, ReasoningEvent) and show_reasoning:
                    yield chunk({"reasoning_content": event.text})
                elif isinstance(event, RetryEvent):
                    content.restart(event.step)
                elif isinstance(event, AnswerDelta) and (text := content.fresh(event)):
                    yield chunk({"content": text})
                elif isinstance(event, FinalEvent):
                    result = event.result
                    yield chunk({}, _finish(result), ponder=_summary(result))
                    if body.stream_options is not None and body.stream_options.include_usage:
                        yield sse_frame(
                            {
                                "id": run_id,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": body.model,
                                "choices": [],
                                "usage": _usage(result),
                            }
                        )
    except BackendError as exc:
        yield sse_frame({"error": {"type": "model_error", "message": public_model_error(exc)}})
        return
    except Exception as exc:
        yield sse_frame(
            {"error": {"type": "server_error", "message": f"run failed ({type(exc).__name__})"}}
        )
        return
    yield sse_frame("[DONE]")


class _ContentDeduper:
    """Drops answer text a retried model call sends again."""

    def __init__(self) -> None:
        self._sent: dict[int, int] = {}
        self._seen: dict[int, int] = {}

    def restart(self, step: int) -> None:
        self._seen[step] = 0

    def fresh(self, delta: AnswerDelta) -> str:
        seen = self._seen.get(delta.step, 0)
        sent = self._sent.get(delta.step, 0)
        self._seen[delta.step] = seen + len(delta.text)
        text = delta.text[max(0, sent - seen) :]
        self._sent[delta.step] = max(sent, seen + len(delta.text))
        return text


def _finish(result: RunResult) -> str:
    return "stop" if result.ok else "length"


def _usage(result: RunResult) -> dict[str, Any]:
    usage = result.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
    }


def _summary(result: RunResult) -> dict[str, Any]:
    return {
        "thread_id": result.thread_id,
        "outcome": result.outcome,
        "run_id": result.run_id,
        "pending": [call.model_dump(mode="json") for call in result.pending],
        "steps": result.steps,
        "tool_calls": [{"name": record.name, "ok": record.ok} for record in result.tool_calls],
    }
