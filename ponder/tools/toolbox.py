"""Running the model's tool calls: validate, call with limits, report as text.

:meth:`ToolBox.run` never raises for a model mistake: broken JSON, arguments
that break the schema, an unknown tool, a tool that raises or hangs each
become a :class:`ToolResult` with ``ok=False`` and an output telling the model
what went wrong and what to do (DESIGN invariant 3).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaViolation
from jsonschema.exceptions import relevance

from ponder.backends.types import ToolCall, ToolMessage, ToolSpec
from ponder.backends.wellformed import well_formed
from ponder.tools._output import clip, shorten, truncate
from ponder.tools.base import Tool, ToolArgumentError, as_tool
from ponder.tools.schema import drop_defaulted_nulls

__all__ = ["ErrorKind", "ToolBox", "ToolResult"]

logger = logging.getLogger("ponder.tools")

ErrorKind = Literal[
    "bad_json", "invalid_arguments", "unknown_tool", "exception", "timeout", "rejected"
]
"""Why a call failed; ``rejected`` means a person declined it (it never ran)."""

_MAX_SCHEMA_ERRORS = 8
_MAX_ERROR_CHARS = 1_000
_UNKNOWN_TOOL_LIMIT = 4_000


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call, ready to go back to the model."""

    call_id: str
    name: str
    arguments: Any
    """The decoded arguments, or the raw text when it was not valid JSON."""
    output: str
    ok: bool
    error_kind: ErrorKind | None
    duration_s: float
    truncated_chars: int
    """How many characters of the output were cut to fit ``max_output_chars``."""

    def to_message(self) -> ToolMessage:
        return ToolMessage(tool_call_id=self.call_id, content=self.output, name=self.name)


class ToolBox:
    """A set of uniquely named tools and the machinery to run calls to them.

    Args:
        tools: :class:`Tool` objects, typed functions, or LangChain tools.
        max_concurrency: at most this many tool invocations run at once
            (per event loop), across :meth:`run` and :meth:`run_all`.
    """

    def __init__(
        self,
        tools: Iterable[Tool | Any],
        *,
        max_concurrency: int = 4,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._tools: dict[str, Tool] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        self.add(tools)
        self._max_concurrency = max_concurrency
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def add(self, tools: Iterable[Tool | Any]) -> None:
        """Add tools (e.g. an :class:`~ponder.tools.mcp.McpToolset`'s); names stay unique."""
        added = [as_tool(item) for item in tools]
        names = [t.name for t in added]
        for name in names:
            if name in self._tools or names.count(name) > 1:
                raise ValueError(f"two tools are named {name!r}; tool names must be unique")
        for t in added:
            self._tools[t.name] = t
            self._validators[t.name] = Draft202012Validator(t.parameters)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self, *, strict: bool = False) -> list[ToolSpec]:
        return [t.spec(strict=strict) for t in self._tools.values()]

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"no tool named {name!r}; tools: {', '.join(self._tools)}") from None

    async def run(self, call: ToolCall) -> ToolResult:
        """Validate and run one call; every model mistake comes back as a result."""
        start = time.perf_counter()
        arguments: Any = call.parsed if call.parse_error is None else call.arguments

        def done(output: str, kind: ErrorKind | None, limit: int) -> ToolResult:
            text, cut = truncate(well_formed(output), limit)
            return ToolResult(
                call_id=call.id,
                name=call.name,
                arguments=arguments,
                output=text,
                ok=kind is None,
                error_kind=kind,
                duration_s=time.perf_counter() - start,
                truncated_chars=cut,
            )

        tool = self._tools.get(call.name)
        if tool is None:
            return done(self._unknown_tool_message(call.name), "unknown_tool", _UNKNOWN_TOOL_LIMIT)
        limit = tool.max_output_chars
        if call.parse_error is not None:
            return done(_bad_json_message(call), "bad_json", limit)
        if not isinstance(arguments, dict):
            return done(_not_an_object_message(call.name, arguments), "invalid_arguments", limit)
        cleaned = drop_defaulted_nulls(arguments, tool.parameters)
        violations = sorted(self._validators[tool.name].iter_errors(cleaned), key=relevance)
        if violations:
            return done(_schema_message(call.name, violations), "invalid_arguments", limit)
        async with self._semaphore():
            scope = asyncio.timeout(tool.timeout_s)
            try:
                async with scope:
                    output = await tool.invoke(cleaned)
            except ToolArgumentError as exc:
                return done(_invalid_message(call.name, str(exc)), "invalid_arguments", limit)
            except TimeoutError as exc:
                if scope.expired():
                    return done(_timeout_message(tool), "timeout", limit)
                return done(_exception_message(call.name, exc), "exception", limit)
            except Exception as exc:
                logger.debug("tool %r raised", call.name, exc_info=True)
                return done(_exception_message(call.name, exc), "exception", limit)
        return done(output, None, limit)

    async def run_all(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Run calls concurrently (bounded by ``max_concurrency``); results in call order."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self.run(call)) for call in calls]
        return [task.result() for task in tasks]

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self._max_concurrency)
        return semaphore

    def _unknown_tool_message(self, name: str) -> str:
        available = ", ".join(self._tools) or "(none)"
        return (
            f"Error: there is no tool named {shorten(name, 100)}. "
            f"Available tools: {available}. Call one of these by its exact name."
        )


def _bad_json_message(call: ToolCall) -> str:
    return (
        f"Error: {call.parse_error}. Received: {shorten(call.arguments, 300)}. "
        f"Resend the call to {call.name!r} with its arguments as one valid JSON object."
    )


def _not_an_object_message(name: str, arguments: Any) -> str:
    return (
        f"Error: the arguments for {name!r} must be a JSON object of named fields, "
        f"got {type(arguments).__name__} {shorten(arguments)}. Resend them as an object."
    )


def _schema_message(name: str, violations: list[SchemaViolation]) -> str:
    lines = [f"- at {_path(v)}: {clip(v.message, 300)}" for v in violations[:_MAX_SCHEMA_ERRORS]]
    if len(violations) > _MAX_SCHEMA_ERRORS:
        lines.append(f"- ... and {len(violations) - _MAX_SCHEMA_ERRORS} more")
    return _invalid_message(name, "\n".join(lines))


def _invalid_message(name: str, details: str) -> str:
    return f"Error: invalid arguments for {name!r}:\n{details}\nFix these and call {name!r} again."


def _timeout_message(tool: Tool) -> str:
    return (
        f"Error: tool {tool.name!r} did not finish within its time limit of "
        f"{tool.timeout_s:g} s and was abandoned. Try a smaller or simpler request."
    )


def _exception_message(name: str, exc: Exception) -> str:
    detail = clip(str(exc), _MAX_ERROR_CHARS)
    return f"Error: tool {name!r} failed with {type(exc).__name__}: {detail}".rstrip(": ")


def _path(violation: SchemaViolation) -> str:
    path = "/".join(str(part) for part in violation.absolute_path)
    return f"`{path}`" if path else "the top level"
