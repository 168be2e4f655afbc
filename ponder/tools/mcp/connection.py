"""One MCP server's session: started on first use, restarted after it dies.

The ``mcp`` SDK's client is an async context manager whose task groups must
be left in the task that entered them, so each session lives in an owner task
of its own; calls from any task of the same event loop go through it. A
session that breaks (the server exits, the connection drops) fails the call
in flight with :class:`McpDisconnected` and is replaced on the next call. A
session belongs to one event loop: used from another loop (``agent.run()``
called twice), it is started afresh there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator
from typing import IO, Any, TextIO, cast

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, CallToolResult, Implementation
from mcp_types import Tool as McpToolInfo

from ponder.tools._output import clip
from ponder.tools.mcp.config import HttpServer, ServerSpec, StdioServer

__all__ = ["McpConnection", "McpDisconnected", "McpServerError", "McpUnavailable"]

logger = logging.getLogger("ponder.tools.mcp")

_CONNECT_TIMEOUT_S = 60.0
_MAX_PAGES = 100
_STDERR_TAIL = 600
_CLIENT_INFO = Implementation(name="ponder", version="0.1.0")
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)  # the SDK's defaults: responses may stream long


class McpUnavailable(ConnectionError):
    """The server could not be started or reached."""


class McpDisconnected(ConnectionError):
    """The server went away during a call; the next call starts a new session."""


class McpServerError(RuntimeError):
    """The server answered with an MCP (JSON-RPC) error."""


class McpConnection:
    """The session with one server; :meth:`aclose` ends it (it may be reopened)."""

    def __init__(self, server: ServerSpec) -> None:
        self.server = server
        self._live: _Live | None = None
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"<McpConnection {self.server.name!r}>"

    async def list_tools(self) -> list[McpToolInfo]:
        """Every tool the server offers (all pages)."""
        live = await self._session()
        tools: list[McpToolInfo] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self._guard(live, live.client.list_tools(cursor=cursor))
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call ``name`` with exactly ``arguments``; protocol errors raise."""
        live = await self._session()
        result: CallToolResult = await self._guard(live, live.client.call_tool(name, arguments))
        return result

    async def aclose(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            await live.close()

    async def _guard(self, live: _Live, request: Any) -> Any:
        """Await ``request``; a broken session is dropped and reported clearly."""
        name = self.server.name
        try:
            return await live.watch(request)
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                message = f"the MCP server answered error {exc.code}: {exc.message}"
                raise McpServerError(message) from None
            await self._drop(live)
            raise McpDisconnected(_gone(name, live)) from None
        except _SessionEnded:
            await self._drop(live)
            raise McpDisconnected(_gone(name, live)) from None
        except (OSError, ConnectionError, EOFError) as exc:
            await self._drop(live)
            raise McpDisconnected(f"{_gone(name, live)} ({type(exc).__name__})") from None

    async def _drop(self, live: _Live) -> None:
        if self._live is live:
            self._live = None
        await live.close()

    async def _session(self) -> _Live:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            live = self._live
            if live is not None and (live.loop is not loop or live.ended):
                self._live = None
                if live.loop is loop:
                    await live.close()
                else:  # its loop is gone (asyncio.run ended), and its process with it
                    live.discard()
            if self._live is None:
                self._live = await _Live.start(self.server)
            return self._live


class _SessionEnded(Exception):
    """The owner task finished while a request was waiting."""


class _Live:
    """A started session: its owner task, its client and the server's stderr."""

    def __init__(self, server: ServerSpec) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        self.ready: asyncio.Future[Client] = self.loop.create_future()
        self.stderr: IO[str] | None = (
            tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            if isinstance(server, StdioServer)
            else None
        )
        self.task = asyncio.create_task(self._own(), name=f"mcp-session-{server.name}")
        self.client: Client

    @classmethod
    async def start(cls, server: ServerSpec) -> _Live:
        live = cls(server)
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                live.client = await asyncio.shield(live.ready)
        except BaseException as exc:
            stderr = live.stderr_tail()
            await live.close()
            if isinstance(exc, TimeoutError):
                raise McpUnavailable(
                    f"MCP server {server.name!r} did not answer within {_CONNECT_TIMEOUT_S:g} s"
                    + stderr
                ) from None
            if isinstance(exc, Exception):
                raise McpUnavailable(
                    f"cannot start MCP server {server.name!r} ({_target(server)}): "
                    f"{_describe(exc)}" + stderr
                ) from None
            raise
        return live

    @property
    def ended(self) -> bool:
        return self.task.done()

    async def watch(self, request: Any) -> Any:
        """``await request``, unless the session ends first."""
        call = asyncio.ensure_future(request)
        try:
            await asyncio.wait({call, self.task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)
        if call.cancelled():
            raise _SessionEnded
        return call.result()

    async def close(self) -> None:
        if asyncio.get_running_loop() is not self.loop:
            self.discard()
            return
        self.stop.set()
        if not self.task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout=10)
            except TimeoutError:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)
        self.discard()

    def discard(self) -> None:
        """Forget a session whose event loop has ended."""
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None

    def stderr_tail(self) -> str:
        if self.stderr is None or self.stderr.closed:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self.stderr.seek(0)
            text = self.stderr.read().strip()
            if text:
                return f"; its stderr ends: {clip(text[-_STDERR_TAIL:], _STDERR_TAIL)}"
        return ""

    async def _own(self) -> None:
        try:
            async with _client(self.server, self.stderr) as client:
                self.ready.set_result(client)
                await self.stop.wait()
        except asyncio.CancelledError:
            if not self.ready.done():
                self.ready.cancel()
            raise
        except Exception as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            else:
                logger.debug("MCP session %r ended: %s", self.server.name, _describe(exc))


@contextlib.asynccontextmanager
async def _client(server: ServerSpec, stderr: IO[str] | None) -> AsyncIterator[Client]:
    """The SDK's client for ``server``, connected and initialised."""
    if isinstance(server, HttpServer):
        async with (
            httpx2.AsyncClient(headers=dict(server.headers), timeout=_HTTP_TIMEOUT) as http,
            Client(
                streamable_http_client(server.url, http_client=http),
                client_info=_CLIENT_INFO,
                cache=None,
            ) as client,
        ):
            yield client
        return
    parameters = StdioServerParameters(
        command=server.command, args=list(server.args), env=dict(server.env) or None, cwd=server.cwd
    )
    transport = stdio_client(parameters, errlog=cast(TextIO, stderr) if stderr else sys.stderr)
    async with Client(transport, client_info=_CLIENT_INFO, cache=None) as client:
        yield client


def _gone(name: str, live: _Live) -> str:
    return (
        f"the MCP server {name!r} disconnected during the call; "
        "it will be restarted for the next call" + live.stderr_tail()
    )


def _target(server: ServerSpec) -> str:
    if isinstance(server, HttpServer):
        return server.url
    return " ".join([server.command, *server.args])[:200]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    if isinstance(exc, MCPError):
        return exc.message
    return clip(f"{type(exc).__name__}: {exc}".rstrip(": "), 300)
