"""LangChain tools are accepted as they are, through their schema and ainvoke."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langchain_core.tools import tool as lc_tool
from pydantic import BaseModel, Field

from ponder.backends.types import ToolCall
from ponder.tools import ToolBox, as_tool


@lc_tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@lc_tool
async def slow_lookup(key: str) -> str:
    """Look a key up, slowly."""
    await asyncio.sleep(60)
    return key


@lc_tool
def broken(x: int) -> str:
    """Always fails."""
    raise ToolException(f"backend unavailable for {x}")


class _Query(BaseModel):
    text: str = Field(description="what to count")


class WordCount(BaseTool):
    name: str = "word_count"
    description: str = "Count the words in a text."
    args_schema: type[BaseModel] = _Query

    def _run(self, text: str, **_: Any) -> int:
        return len(text.split())


def call(name: str, arguments: str) -> ToolCall:
    return ToolCall(id="c1", name=name, arguments=arguments)


def test_schema_and_description_come_from_langchain() -> None:
    t = as_tool(multiply)
    assert (t.name, t.description) == ("multiply", "Multiply two integers.")
    assert t.parameters == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }
    assert as_tool(WordCount()).parameters["properties"] == {
        "text": {"type": "string", "description": "what to count"}
    }
    strict = t.spec(strict=True).parameters
    assert strict["additionalProperties"] is False


def test_dict_args_schema() -> None:
    upper = StructuredTool.from_function(
        func=lambda q: q.upper(),
        name="upper",
        description="Upper-case a string.",
        args_schema={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    )
    assert as_tool(upper).parameters["required"] == ["q"]


async def test_toolbox_runs_langchain_tools() -> None:
    box = ToolBox([multiply, WordCount(), broken])
    assert box.names == ["multiply", "word_count", "broken"]
    results = await box.run_all(
        [
            call("multiply", '{"a": 6, "b": 7}'),
            call("word_count", '{"text": "one two three"}'),
            call("multiply", '{"a": "six", "b": 7}'),
            call("broken", '{"x": 1}'),
        ]
    )
    assert [r.output for r in results[:2]] == ["42", "3"]
    assert results[2].error_kind == "invalid_arguments"
    assert results[3].error_kind == "exception"
    assert "ToolException: backend unavailable for 1" in results[3].output


async def test_langchain_tool_timeout() -> None:
    from ponder.tools.langchain_adapter import LangChainTool

    box = ToolBox([LangChainTool(slow_lookup, timeout_s=0.05)])
    result = await box.run(call("slow_lookup", '{"key": "k"}'))
    assert result.error_kind == "timeout"
