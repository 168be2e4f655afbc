"""ponder agents as MCP tools: ``ponder mcp`` (stdio) and ``/mcp`` on ``ponder serve``.

Each agent is one MCP tool named after it: ``question`` in, the final answer
out (the answer as JSON text when the agent answers to a schema). Reasoning
never goes over MCP unless the server is built with ``send_reasoning=True``,
and then only as progress notifications to a client that asked for progress
(it never enters the result). Failures are MCP tool errors with one clear line.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import Any

from fastapi import HTTPException
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp_types import ToolAnnotations
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ponder.agents import FinalEvent, RunResult
from ponder.backends.errors import BackendError
from ponder.graphs import ReasoningEvent
from ponder.server.auth import BearerAuth
from ponder.server.errors import ApiError
from ponder.server.runs import AgentSource, RunManager

__all__ = ["BearerASGI", "mcp_http_app", "mcp_server"]

logger = logging.getLogger("ponder.server")

_DESCRIPTION = (
    "Ask the ponder agent {name!r} a question. It reasons, may use its tools, and returns "
    "its final answer{json}."
)


def mcp_server(
    agents: Mapping[str, AgentSource] | RunManager,
    *,
    send_reasoning: bool = False,
    descriptions: Mapping[str, str] | None = None,
) -> MCPServer:
    """An MCP server with one tool per agent (``question`` → final answer)."""
    manager = agents if isinstance(agents, RunManager) else RunManager(agents, memory=None)
    server = MCPServer("ponder", instructions="Each tool is a ponder agent; ask it a question.")
    for name in manager.names:
        server.add_tool(
            _ask(manager, name, send_reasoning=send_reasoning),
            name=name,
            description=(descriptions or {}).get(name) or _describe(manager, name),
            annotations=ToolAnnotations(read_only_hint=False, open_world_hint=True),
            structured_output=False,
        )
    return server


def mcp_http_app(
    server: MCPServer, auth: BearerAuth
) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The Streamable HTTP endpoint (route it at ``/mcp``) and its lifespan.

    The endpoint asks for the same bearer tokens as the rest of the server.
    The lifespan runs the SDK's session manager; the host app must enter it.
    """
    server.streamable_http_app(host="0.0.0.0")  # builds the session manager; bearer auth guards
    endpoint = StreamableHTTPASGIApp(server.session_manager)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return BearerASGI(endpoint, auth), lifespan


class BearerASGI:
    """ASGI middleware: 401 unless the request carries a valid bearer token."""

    def __init__(self, app: ASGIApp, auth: BearerAuth) -> None:
        self._app = app
        self._auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._auth.enabled:
            try:
                self._auth(Request(scope))
            except HTTPException as exc:
                await _unauthorized(str(exc.detail))(scope, receive, send)
                return
        await self._app(scope, receive, send)


def _unauthorized(detail: str) -> JSONResponse:
    """A 401 whose body is a JSON-RPC error, so MCP clients can show the reason."""
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": detail}}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _describe(manager: RunManager, name: str) -> str:
    source = manager.source(name)
    json_note = " as JSON text" if getattr(source, "answer_format", None) is not None else ""
    return _DESCRIPTION.format(name=name, json=json_note)


def _ask(manager: RunManager, name: str, *, send_reasoning: bool) -> Callable[..., Any]:
    async def ask(question: str, ctx: Context) -> str:
        """Ask the agent; returns its final answer."""
        if not question.strip():
            raise ToolError("the question is empty: send the question as text")
        try:
            claim = manager.claim(uuid.uuid4().hex)
        except ApiError as exc:
            raise ToolError(str(exc.detail)) from None
        claim.attach()
        result: RunResult | None = None
        progress = 0
        try:
            events = manager.events(name, question, claim, run_id=uuid.uuid4().hex)
            async with aclosing(events) as stream:
                async for event in stream:
                    if isinstance(event, ReasoningEvent) and send_reasoning:
                        progress += 1
                        await ctx.report_progress(progress, message=event.text)
                    elif isinstance(event, FinalEvent):
                        result = event.result
        except BackendError as exc:
            raise ToolError(f"the model failed: {exc.message}") from None
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        finally:
            claim.release()
        if result is None:
            raise ToolError("the run ended without a result")
        return _answer(name, result)

    return ask


def _answer(name: str, result: RunResult) -> str:
    if not result.ok or result.answer_text is None:
        reason = result.outcome.replace("_", " ")
        raise ToolError(f"agent {name!r} ended without an answer ({reason})")
    answer = result.to_json_dict()["answer"]
    if isinstance(answer, str):
        return answer
    return json.dumps(answer, ensure_ascii=False)
