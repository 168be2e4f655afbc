"""An MCP server's tool as a ponder :class:`~ponder.tools.Tool`.

The :class:`~ponder.tools.ToolBox` validates the model's arguments against
the server's JSON Schema, applies the timeout and the output cap and turns
failures into error results, as for any tool. Only the arguments the model
wrote are sent: nothing else (no reasoning, no metadata) goes to the server.
"""

from __future__ import annotations

from typing import Any

from mcp_types import Tool as McpToolInfo
from mcp_types import ToolAnnotations

from ponder.tools._output import clip
from ponder.tools.base import Tool
from ponder.tools.mcp.connection import McpConnection
from ponder.tools.mcp.content import frame, neutralise, render_result

__all__ = ["McpTool", "McpToolError"]

_MAX_ERROR_CHARS = 2_000
_MAX_DESCRIPTION_CHARS = 2_000


class McpToolError(RuntimeError):
    """The server ran the tool and reported an error (``isError``)."""


class McpTool(Tool):
    """One tool of one MCP server, named ``<server>__<tool>``.

    Attributes:
        server: the server's name (the prefix).
        remote_name: the tool's own name on the server.
        annotations: the server's hints (``read_only_hint``,
            ``destructive_hint``, ...), or ``None``. Hints from a server are
            not guarantees.
        needs_approval_default: what the server's hints suggest for approval
            policies: ``True`` for a tool it marks destructive, ``False`` for a
            read-only one, ``None`` when it says neither.
    """

    def __init__(
        self,
        connection: McpConnection,
        info: McpToolInfo,
        *,
        name: str,
        max_output_chars: int = 20_000,
    ) -> None:
        parameters = {k: v for k, v in info.input_schema.items() if k != "$schema"}
        parameters.setdefault("type", "object")
        parameters.setdefault("properties", {})
        description = clip(info.description or info.title or info.name, _MAX_DESCRIPTION_CHARS)
        super().__init__(
            name=name,
            description=f"[MCP server {connection.server.name}] {description}",
            parameters=parameters,
            timeout_s=connection.server.timeout_s,
            max_output_chars=max_output_chars,
        )
        self.server = connection.server.name
        self.remote_name = info.name
        self.annotations: ToolAnnotations | None = info.annotations
        self.needs_approval_default = _approval_default(info.annotations)
        self._connection = connection

    async def invoke(self, arguments: dict[str, Any]) -> str:
        result = await self._connection.call_tool(self.remote_name, arguments)
        text = render_result(result)
        if result.is_error:
            raise McpToolError(clip(neutralise(text), _MAX_ERROR_CHARS))
        return frame(self.server, self.remote_name, text)


def _approval_default(annotations: ToolAnnotations | None) -> bool | None:
    if annotations is None:
        return None
    if annotations.read_only_hint:
        return False
    if annotations.destructive_hint:
        return True
    return None
