"""ToolBox: validation, error reporting to the model, timeouts, caps, concurrency."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from datetime import date
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from ponder.backends.types import ToolCall, ToolMessage
from ponder.tools import Tool, ToolArgumentError, ToolBox, ToolResult, tool


@tool
def evaluate_polynomial(
    coefficients: list[float], x: float, mode: Literal["value", "derivative"] = "value"
) -> float:
    """Evaluate a polynomial, or its derivative, at x.

    Args:
        coefficients: from the highest power down, e.g. [1, 0, -2] is x**2 - 2.
        x: where to evaluate.
        mode: the value or the first derivative.
    """
    if mode == "derivative":
        n = len(coefficients) - 1
        coefficients = [c * (n - i) for i, c in enumerate(coefficients[:-1])]
    result = 0.0
    for c in coefficients:
        result = result * x + c
    return result


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


def call(name: str, arguments: str | dict[str, Any], call_id: str = "c1") -> ToolCall:
    return ToolCall.model_validate({"id": call_id, "name": name, "arguments": arguments})


@pytest.fixture
def box() -> ToolBox:
    return ToolBox([evaluate_polynomial, divide])


async def test_realistic_math_tool(box: ToolBox) -> None:
    args = {"coefficients": [1, 0, -2], "x": math.sqrt(2)}
    result = await box.run(call("evaluate_polynomial", json.dumps(args)))
    assert result.ok and result.error_kind is None
    assert abs(float(result.output)) < 1e-12
    assert (result.call_id, result.name, result.arguments) == ("c1", "evaluate_polynomial", args)
    deriv = await box.run(
        call("evaluate_polynomial", {"coefficients": [1, 0, -2], "x": 3, "mode": "derivative"})
    )
    assert deriv.output == "6.0"
    assert deriv.duration_s >= 0 and deriv.truncated_chars == 0


async def test_result_to_message(box: ToolBox) -> None:
    result = await box.run(call("divide", '{"a": 1, "b": 4}', call_id="call_7"))
    assert result.to_message() == ToolMessage(tool_call_id="call_7", content="0.25", name="divide")


async def test_bad_json_quotes_the_parse_error(box: ToolBox) -> None:
    result = await box.run(call("divide", '{"a": 1, "b: 2}'))
    assert (result.ok, result.error_kind) == (False, "bad_json")
    assert result.arguments == '{"a": 1, "b: 2}'
    assert "not valid JSON" in result.output and "line 1 column" in result.output
    assert "valid JSON object" in result.output


async def test_non_object_arguments(box: ToolBox) -> None:
    for raw in ("[1, 2]", "3", '"a"', "null"):
        result = await box.run(call("divide", raw))
        assert result.error_kind == "invalid_arguments", raw
        assert "must be a JSON object" in result.output


async def test_schema_violation_names_field_and_expectation(box: ToolBox) -> None:
    result = await box.run(call("divide", {"a": "one", "b": 2}))
    assert result.error_kind == "invalid_arguments"
    assert "at `a`: 'one' is not of type 'number'" in result.output
    missing = await box.run(call("divide", {"a": 1}))
    assert "'b' is a required property" in missing.output
    extra = await box.run(call("divide", {"a": 1, "b": 2, "c": 3}))
    assert "'c' was unexpected" in extra.output
    nested = await box.run(call("evaluate_polynomial", {"coefficients": [1, "x"], "x": 1}))
    assert "at `coefficients/1`" in nested.output
    enum = await box.run(call("evaluate_polynomial", {"coefficients": [1], "x": 1, "mode": "q"}))
    assert "at `mode`: 'q' is not one of ['value', 'derivative']" in enum.output


async def test_pydantic_coercion_errors_are_invalid_arguments() -> None:
    @tool
    def days_until(when: date) -> int:
        """Days from 2026-01-01 to a date."""
        return (when - date(2026, 1, 1)).days

    box = ToolBox([days_until])
    assert (await box.run(call("days_until", {"when": "2026-03-01"}))).output == "59"
    bad = await box.run(call("days_until", {"when": "next tuesday"}))
    assert bad.error_kind == "invalid_arguments"
    assert "at when: Input should be a valid date" in bad.output


async def test_unknown_tool_lists_the_tools(box: ToolBox) -> None:
    result = await box.run(call("multiply", {"a": 1}))
    assert result.error_kind == "unknown_tool"
    assert "no tool named 'multiply'" in result.output
    assert "evaluate_polynomial, divide" in result.output


async def test_failing_tool_reports_exception_without_traceback(box: ToolBox) -> None:
    result = await box.run(call("divide", {"a": 1, "b": 0}))
    assert (result.ok, result.error_kind) == (False, "exception")
    assert (
        result.output
        == "Error: tool 'divide' failed with ZeroDivisionError: float division by zero"
    )


async def test_tool_argument_error_from_a_hand_written_tool() -> None:
    class Sqrt(Tool):
        async def invoke(self, arguments: dict[str, Any]) -> str:
            if arguments["x"] < 0:
                raise ToolArgumentError("x must be >= 0 for a real square root")
            return str(math.sqrt(arguments["x"]))

    schema = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
    box = ToolBox([Sqrt(name="sqrt", parameters=schema)])
    assert (await box.run(call("sqrt", {"x": 9}))).output == "3.0"
    bad = await box.run(call("sqrt", {"x": -1}))
    assert bad.error_kind == "invalid_arguments"
    assert "x must be >= 0" in bad.output


async def test_async_timeout_cancels_the_tool() -> None:
    cancelled = asyncio.Event()

    @tool(timeout_s=0.05)
    async def hang() -> str:
        """Never returns."""
        try:
            await asyncio.sleep(60)
        finally:
            cancelled.set()
        return "unreachable"

    result = await ToolBox([hang]).run(call("hang", "{}"))
    assert result.error_kind == "timeout"
    assert "time limit of 0.05 s" in result.output
    assert cancelled.is_set()
    assert result.duration_s < 5


async def test_sync_timeout_abandons_the_thread() -> None:
    release = threading.Event()

    @tool(timeout_s=0.05)
    def block() -> str:
        """Blocks a worker thread."""
        release.wait(5)
        return "late"

    result = await ToolBox([block]).run(call("block", ""))
    release.set()
    assert result.error_kind == "timeout"


async def test_timeout_error_raised_by_the_tool_is_an_exception() -> None:
    @tool
    async def flaky() -> str:
        """Its own I/O timed out."""
        raise TimeoutError("upstream did not answer")

    result = await ToolBox([flaky]).run(call("flaky", "{}"))
    assert result.error_kind == "exception"
    assert "TimeoutError: upstream did not answer" in result.output


async def test_output_rendering() -> None:
    class Answer(BaseModel):
        value: int

    @tool
    def nothing() -> None:
        """Returns None."""

    @tool
    def model() -> Answer:
        """Returns a model."""
        return Answer(value=3)

    @tool
    def mapping() -> dict[str, list[int]]:
        """Returns a dict."""
        return {"xs": [1, 2]}

    @tool
    def text() -> str:
        """Returns text."""
        return "plain {not json}"

    box = ToolBox([nothing, model, mapping, text])
    outputs = [(await box.run(call(n, "{}"))).output for n in box.names]
    assert outputs == ["(no output)", '{"value":3}', '{"xs":[1,2]}', "plain {not json}"]


async def test_long_output_is_cut_keeping_head_and_tail() -> None:
    @tool(max_output_chars=1_000)
    def big() -> str:
        """Long output."""
        return "H" * 5_000 + "T" * 5_000

    result = await ToolBox([big]).run(call("big", "{}"))
    assert len(result.output) == 1_000
    assert result.output.startswith("H") and result.output.endswith("T")
    assert result.truncated_chars == 10_000 - result.output.count("H") - result.output.count("T")
    assert f"[... {result.truncated_chars} characters cut ...]" in result.output
    assert result.ok


async def test_run_all_overlaps_and_keeps_order() -> None:
    running = 0
    peak = 0

    @tool
    async def slow(i: int) -> int:
        """Sleeps, then echoes."""
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.2 if i % 2 == 0 else 0.05)
        running -= 1
        return i

    box = ToolBox([slow], max_concurrency=4)
    calls = [call("slow", {"i": i}, call_id=f"c{i}") for i in range(8)]
    results = await box.run_all(calls)
    assert [r.output for r in results] == [str(i) for i in range(8)]
    assert [r.call_id for r in results] == [c.id for c in calls]
    assert peak == 4  # four at a time overlap (the wall time is a benchmark's business)


async def test_max_concurrency_one_is_serial_across_run_calls() -> None:
    running = 0
    peak = 0

    @tool
    async def step() -> None:
        """Sleeps briefly."""
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    box = ToolBox([step], max_concurrency=1)
    await asyncio.gather(box.run(call("step", "{}")), box.run_all([call("step", "{}")] * 3))
    assert peak == 1


async def test_run_all_mixes_failures_and_successes(box: ToolBox) -> None:
    results = await box.run_all(
        [
            call("divide", {"a": 6, "b": 3}),
            call("divide", "{oops"),
            call("nope", "{}"),
            call("divide", {"a": 1, "b": 0}),
        ]
    )
    assert [r.error_kind for r in results] == [None, "bad_json", "unknown_tool", "exception"]
    assert all(isinstance(r, ToolResult) for r in results)


def test_toolbox_construction(box: ToolBox) -> None:
    assert box.names == ["evaluate_polynomial", "divide"]
    assert [s.name for s in box.specs(strict=True)] == box.names
    assert all(s.strict for s in box.specs(strict=True))
    assert box.get("divide") is divide
    with pytest.raises(KeyError, match="no tool named 'x'"):
        box.get("x")
    with pytest.raises(ValueError, match="two tools are named 'divide'"):
        ToolBox([divide, divide])
    with pytest.raises(ValueError, match="max_concurrency"):
        ToolBox([divide], max_concurrency=0)

    def plain(x: int) -> int:
        """A plain function."""
        return x

    assert ToolBox([plain]).names == ["plain"]


def test_toolbox_is_reusable_across_event_loops(box: ToolBox) -> None:
    for _ in range(2):
        results = asyncio.run(box.run_all([call("divide", {"a": 1, "b": 2})] * 3))
        assert [r.output for r in results] == ["0.5"] * 3
