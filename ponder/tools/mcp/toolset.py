"""The tools of several MCP servers, listed once, with the sessions behind them."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from typing import Self

from ponder.tools.mcp.config import ServerSpec, parse_server, tool_name, unique_names
from ponder.tools.mcp.connection import McpConnection
from ponder.tools.mcp.tool import McpTool
from ponder.tools.toolbox import ToolBox

__all__ = ["McpToolset"]

logger = logging.getLogger("ponder.tools.mcp")


class McpToolset:
    """Connects to ``servers`` and offers their tools as :class:`McpTool` objects.

    ``servers`` are :class:`StdioServer` / :class:`HttpServer` objects or
    strings as for ``ponder run --mcp`` (a command line or a URL). Use it as
    an async context manager, or call :meth:`tools` and later :meth:`aclose`::

        async with McpToolset(["npx -y @modelcontextprotocol/server-filesystem /data"]) as mcp:
            box = ToolBox([*my_tools, *mcp.tools_loaded])

    A server that cannot be started makes :meth:`tools` raise
    :class:`McpUnavailable`; a tool whose schema is not valid JSON Schema is
    left out, with a warning in the log.
    """

    def __init__(self, servers: Iterable[ServerSpec | str], *, max_output_chars: int = 20_000):
        specs = [parse_server(s) if isinstance(s, str) else s for s in servers]
        self.connections = [McpConnection(spec) for spec in unique_names(specs)]
        self._max_output_chars = max_output_chars
        self._tools: list[McpTool] | None = None
        self._added_to: weakref.WeakSet[ToolBox] = weakref.WeakSet()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def tools_loaded(self) -> list[McpTool]:
        """The tools after :meth:`tools` ran (empty before)."""
        return list(self._tools or [])

    async def tools(self) -> list[McpTool]:
        """Every server's tools (listed on the first call, concurrently)."""
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            if self._tools is None:
                listed = await asyncio.gather(*(self._list(c) for c in self.connections))
                self._tools = [tool for tools in listed for tool in tools]
        return list(self._tools)

    async def add_tools_to(self, box: ToolBox) -> None:
        """Put the tools in ``box`` (once, however often this is called)."""
        tools = await self.tools()
        if box not in self._added_to:
            self._added_to.add(box)
            box.add(tools)

    async def aclose(self) -> None:
        """End every session (a later call would start them again)."""
        await asyncio.gather(*(c.aclose() for c in self.connections))

    async def __aenter__(self) -> Self:
        try:
            await self.tools()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _list(self, connection: McpConnection) -> list[McpTool]:
        tools: list[McpTool] = []
        for info in await connection.list_tools():
            name = tool_name(connection.server.name, info.name)
            try:
                tools.append(
                    McpTool(connection, info, name=name, max_output_chars=self._max_output_chars)
                )
            except ValueError as exc:
                logger.warning("MCP tool %r left out: %s", info.name, exc)
        return tools
