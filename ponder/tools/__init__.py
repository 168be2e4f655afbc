"""Tools for the model: typed definitions, JSON Schema, safe execution.

Define a tool with :func:`tool` (or :meth:`Tool.from_function`,
:meth:`Tool.from_model`, a :class:`Tool` subclass, a LangChain tool), put
tools in a :class:`ToolBox`, send ``box.specs()`` to the model, and turn its
tool calls into tool messages with ``await box.run_all(calls)``. Inside an
agent run, a tool can ask :func:`current_tool_call` which call it executes
(with an idempotency key that a resumed run repeats).
"""

from ponder.tools.base import Tool, ToolArgumentError, as_tool, tool
from ponder.tools.call_context import ToolCallContext, current_tool_call
from ponder.tools.schema import strict_schema
from ponder.tools.toolbox import ErrorKind, ToolBox, ToolResult

__all__ = [
    "ErrorKind",
    "Tool",
    "ToolArgumentError",
    "ToolBox",
    "ToolCallContext",
    "ToolResult",
    "as_tool",
    "current_tool_call",
    "strict_schema",
    "tool",
]
