"""The MCP server the latency benchmark calls: one ``add`` tool (``MCPServer``, the SDK's FastMCP).

``python _mcp_server.py stdio`` serves stdin/stdout; ``python _mcp_server.py
http`` serves Streamable HTTP on a free loopback port and prints ``PORT <n>``.
"""

from __future__ import annotations

import asyncio
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("bench", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


async def _http() -> None:
    import uvicorn

    config = uvicorn.Config(
        server.streamable_http_app(), host="127.0.0.1", port=0, log_level="warning"
    )
    http = uvicorn.Server(config)
    task = asyncio.create_task(http.serve())
    while not http.started:
        if task.done():
            task.result()  # it failed to start: raise why
        await asyncio.sleep(0.01)
    print("PORT", http.servers[0].sockets[0].getsockname()[1], flush=True)
    await task


if __name__ == "__main__":
    if sys.argv[1:] == ["http"]:
        asyncio.run(_http())
    else:
        server.run("stdio")
