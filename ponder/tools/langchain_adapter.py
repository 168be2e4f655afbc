"""LangChain tools (``BaseTool``, ``@tool`` functions) as ponder tools, unchanged."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from ponder.tools._output import describe_validation_error, render_output
from ponder.tools.base import Tool, ToolArgumentError
from ponder.tools.schema import strip_titles

__all__ = ["LangChainTool"]


class LangChainTool(Tool):
    """Wraps a LangChain tool: its ``tool_call_schema``, called with ``ainvoke``.

    Sync LangChain tools run in LangChain's executor thread, so a timeout
    abandons them rather than stopping them (as for sync ponder tools).
    """

    def __init__(
        self,
        lc_tool: BaseTool,
        *,
        timeout_s: float | None = 30.0,
        max_output_chars: int = 20_000,
    ) -> None:
        schema = lc_tool.tool_call_schema
        if isinstance(schema, dict):
            raw: dict[str, Any] = dict(schema)
        elif isinstance(schema, type) and issubclass(schema, BaseModel):
            raw = schema.model_json_schema()
        else:
            raise TypeError(f"LangChain tool {lc_tool.name!r} has an unsupported args schema")
        parameters = strip_titles(raw)
        parameters.pop("description", None)
        parameters.setdefault("type", "object")
        super().__init__(
            name=lc_tool.name,
            description=lc_tool.description,
            parameters=parameters,
            timeout_s=timeout_s,
            max_output_chars=max_output_chars,
        )
        self.lc_tool = lc_tool

    async def invoke(self, arguments: dict[str, Any]) -> str:
        try:
            result = await self.lc_tool.ainvoke(arguments)
        except ValidationError as exc:
            raise ToolArgumentError(describe_validation_error(exc)) from None
        return render_output(result)
