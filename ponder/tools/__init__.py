"""Tools for the model: typed definitions, JSON Schema, safe execution.

Define a tool with :func:`tool` (or :meth:`Tool.from_function`,
:meth:`Tool.from_model`, a :class:`Tool` subclass, a LangChain tool), put
tools in a :class:`ToolBox`, send ``box.specs()`` to the model, and turn its
tool calls into tool messages with ``await box.run_all(calls)``.
"""

from ponder.tools.base import Tool, ToolArgumentError, as_tool, tool
from ponder.tools.schema import strict_schema
from ponder.tools.toolbox import ErrorKind, ToolBox, ToolResult

__all__ = [
    "ErrorKind",
    "Tool",
    "ToolArgumentError",
    "ToolBox",
    "ToolResult",
    "as_tool",
    "strict_schema",
    "tool",
]
