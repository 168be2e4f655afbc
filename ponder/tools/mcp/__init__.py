"""MCP client: tools from any Model Context Protocol server (``pip install 'ponder[mcp]'``).

Servers are reached over stdio (a command line) or Streamable HTTP (a URL,
with headers), through the official ``mcp`` SDK. Their tools act like native
tools: the :class:`~ponder.tools.ToolBox` validates arguments against the
server's JSON Schema, applies timeouts and output caps, and reports errors to
the model. A tool of server ``fs`` named ``read_file`` is ``fs__read_file``
to the model. Output is framed as untrusted data.
"""

from ponder.tools.mcp.config import (
    HttpServer,
    McpConfigError,
    ServerSpec,
    StdioServer,
    load_config,
    parse_server,
    tool_name,
)
from ponder.tools.mcp.connection import (
    McpConnection,
    McpDisconnected,
    McpServerError,
    McpUnavailable,
)
from ponder.tools.mcp.tool import McpTool, McpToolError
from ponder.tools.mcp.toolset import McpToolset

__all__ = [
    "HttpServer",
    "McpConfigError",
    "McpConnection",
    "McpDisconnected",
    "McpServerError",
    "McpTool",
    "McpToolError",
    "McpToolset",
    "McpUnavailable",
    "ServerSpec",
    "StdioServer",
    "load_config",
    "parse_server",
    "tool_name",
]
