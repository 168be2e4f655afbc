"""Invariant 1 for telemetry: a canary in the model's reasoning reaches no exported byte.

Content capture on, reasoning capture off, across a normal tool-using run, a
tool that raises quoting its arguments, a backend error whose body echoes
the prompt (with the reasoning DeepSeek V4 gets back inside the tool loop),
a JSON-mode retry, a cancelled run and a budget-exhausted run. Every span
(attributes, events, status), every metric point and every log record (the
OpenTelemetry logging bridge on the root logger, DEBUG) is scanned. With
reasoning capture on, the canary appears exactly where documented: the
``reasoning`` parts of chat spans' input/output messages, nowhere else.
"""

from __future__ import annotations

import json
import logging
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import baggage
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from otel_helpers import Otel, attr, backend_for, install
from pydantic import BaseModel

from ponder.agents import Agent, FinalEvent
from ponder.backends import ServerError
from ponder.graphs import Budgets, ReasoningEvent
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

MODEL = "deepseek-v4-pro"  # DeepSeek V4 gets reasoning back within the tool loop
API_KEY = "sk-telemetry-canary-key-5e0c"


@dataclass
class Capture:
    otel: Otel
    logs: InMemoryLogRecordExporter
    records: list[logging.LogRecord]
    baggage_seen: list[dict[str, Any]]

    def exported(self) -> str:
        logs = "\n".join(r.to_json() for r in self.logs.get_finished_logs())
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        plain = "\n".join(formatter.format(r) for r in self.records)
        return "\n".join(
            [self.otel.everything_exported(), logs, plain, json.dumps(self.baggage_seen)]
        )


class _ListHandler(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _capture(**settings: Any) -> Iterator[Capture]:
    logs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    records: list[logging.LogRecord] = []
    with warnings.catch_warnings():  # the SDK's bridge is deprecated, not gone
        warnings.simplefilter("ignore", DeprecationWarning)
        bridge = LoggingHandler(logging.DEBUG, logger_provider=provider)
    handlers = [bridge, _ListHandler(records)]
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    try:
        for otel in install(**settings):
            yield Capture(otel, logs, records, [])
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(old_level)
        provider.shutdown()


@pytest.fixture
def capture() -> Iterator[Capture]:
    yield from _capture(capture_content=True)


@pytest.fixture
def canary() -> str:
    return f"CANARY-{uuid.uuid4().hex}"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def explode(note: str) -> str:
    """A tool that always fails, quoting what it was given."""
    raise ValueError(f"cannot handle note={note!r}")


class Total(BaseModel):
    total: int


async def _collect(agent: Agent, question: str) -> tuple[list[str], Any]:
    reasoning: list[str] = []
    result = None
    async for event in agent.astream(question):
        if isinstance(event, ReasoningEvent):
            reasoning.append(event.text)
        elif isinstance(event, FinalEvent):
            result = event.result
    return reasoning, result


def _tool_watching_baggage(capture: Capture) -> Callable[[int, int], int]:
    def add_and_look(a: int, b: int) -> int:
        """Add two integers."""
        capture.baggage_seen.append(dict(baggage.get_all()))
        return a + b

    add_and_look.__name__ = "add"
    return add_and_look


async def test_normal_run(capture: Capture, canary: str) -> None:
    script = [
        Turn(reasoning=f"{canary} plan", tool_calls=[ToolCallSpec("add", {"a": 20, "b": 22})]),
        Turn(reasoning=f"{canary} again", tool_calls=[ToolCallSpec("add", {"a": 40, "b": 2})]),
        Turn(reasoning=f"{canary} done", content="The sum is 42."),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek", model=MODEL, api_key=API_KEY) as backend:
            agent = Agent(backend, [_tool_watching_baggage(capture)])
            reasoning, result = await _collect(agent, "What is 20 + 22?")
        replayed = json.dumps([r.body for r in server.requests])
        headers = json.dumps([r.headers for r in server.requests])
    assert result.ok and canary in "".join(reasoning) and canary in replayed  # live in the run
    assert "baggage" not in headers and capture.baggage_seen == [{}, {}]
    assert "The sum is 42." in capture.exported()  # content capture is on
    assert canary not in capture.exported() and API_KEY not in capture.exported()


async def test_tool_raising_with_its_arguments(capture: Capture, canary: str) -> None:
    script = [
        Turn(reasoning=f"{canary} try it", tool_calls=[ToolCallSpec("explode", {"note": "x-42"})]),
        Turn(reasoning=f"{canary} it failed", content="The tool failed."),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek", model=MODEL) as backend:
            reasoning, result = await _collect(Agent(backend, [explode]), "Use explode.")
    assert result.tool_calls[0].error_kind == "exception" and canary in "".join(reasoning)
    [tool] = capture.otel.by_operation("execute_tool")
    assert attr(tool, "error.type") == "exception"
    assert "x-42" in tool.status.description  # the error is recorded, its model output kept
    assert canary not in capture.exported()


async def test_backend_error_echoing_the_prompt(capture: Capture, canary: str) -> None:
    calls = 0

    def script(body: dict[str, Any]) -> Turn:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Turn(
                reasoning=f"{canary} plan", tool_calls=[ToolCallSpec("add", {"a": 1, "b": 2})]
            )
        return Turn(status=500, error_message=f"cannot serve {json.dumps(body['messages'])}")

    with FakeModelServer(script, shape="deepseek") as server:
        options = {"model": MODEL, "max_retries": 1, "api_key": API_KEY}
        async with backend_for(server, "deepseek", **options) as backend:
            agent = Agent(backend, [add], system_prompt="")
            with pytest.raises(ServerError) as raised:
                await _collect(agent, "1 + 2?")
    # the provider echoed the replayed reasoning; the backend redacted it before raising
    assert '"reasoning_content": "[redacted]"' in str(raised.value)
    assert canary not in str(raised.value)
    chats = capture.otel.by_operation("chat")
    failed = [c for c in chats if attr(c, "error.type") == "ServerError"]
    assert len(failed) == 1 and attr(failed[0], "ponder.retries") == 1
    [event] = [e for e in failed[0].events if e.name == "exception"]
    assert "cannot serve" in event.attributes["exception.message"]  # kept, minus the reasoning
    assert canary not in event.attributes["exception.message"]
    [run] = capture.otel.by_operation("invoke_agent")
    assert attr(run, "ponder.outcome") == "error"
    assert canary not in capture.exported() and API_KEY not in capture.exported()


async def test_json_mode_retry(capture: Capture, canary: str) -> None:
    script = [
        Turn(reasoning=f"{canary} first", content="forty-two"),
        Turn(reasoning=f"{canary} fix it", content='{"total": 42}'),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek", model=MODEL) as backend:
            agent = Agent(backend, response_schema=Total)
            reasoning, result = await _collect(agent, "20 + 22 as JSON")
    assert result.ok and result.answer == Total(total=42) and canary in "".join(reasoning)
    [run] = capture.otel.by_operation("invoke_agent")
    assert attr(run, "ponder.json_retries") == 1
    assert [attr(c, "gen_ai.output.type") for c in capture.otel.by_operation("chat")] == [
        "json"
    ] * 2
    retries = capture.otel.metric_points()["ponder.retries"]
    assert [(p.attributes["ponder.retry.kind"], p.value) for p in retries] == [("json", 1)]
    assert canary not in capture.exported()


async def test_cancelled_run(capture: Capture, canary: str) -> None:
    script = [Turn(reasoning=f"{canary} " * 40, content="never", chunk_chars=8, delay_s=0.05)]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek", model=MODEL) as backend:
            stream = Agent(backend).astream("Think long.")
            seen = ""
            async for event in stream:
                if isinstance(event, ReasoningEvent):
                    seen += event.text
                    if canary in seen:
                        break
            await stream.aclose()  # type: ignore[attr-defined]
    [run] = capture.otel.by_operation("invoke_agent")
    [chat] = capture.otel.by_operation("chat")
    assert attr(run, "ponder.outcome") == "cancelled" and attr(chat, "error.type") == "cancelled"
    assert canary not in capture.exported()


async def test_budget_exhausted_run(capture: Capture, canary: str) -> None:
    script = [
        Turn(reasoning=f"{canary} tool", tool_calls=[ToolCallSpec("add", {"a": 1, "b": 1})]),
        Turn(reasoning=f"{canary} out of steps", content="Probably 2."),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek", model=MODEL) as backend:
            agent = Agent(backend, [add], budgets=Budgets(max_steps=1))
            reasoning, result = await _collect(agent, "1 + 1?")
    assert result.outcome == "max_steps" and canary in "".join(reasoning)
    [run] = capture.otel.by_operation("invoke_agent")
    assert attr(run, "ponder.budget") == "max_steps"
    [outcome] = capture.otel.metric_points()["ponder.run.outcomes"]
    assert outcome.attributes["ponder.outcome"] == "max_steps"
    assert canary not in capture.exported()


async def test_with_reasoning_capture_the_canary_is_exactly_where_documented(canary: str) -> None:
    script = [
        Turn(reasoning=f"{canary} plan", tool_calls=[ToolCallSpec("add", {"a": 20, "b": 22})]),
        Turn(reasoning=f"{canary} done", content="The sum is 42."),
    ]
    for capture in _capture(capture_content=True, capture_reasoning=True):
        with FakeModelServer(script, shape="deepseek") as server:
            async with backend_for(server, "deepseek", model=MODEL) as backend:
                result = await Agent(backend, [add]).arun("What is 20 + 22?")
        assert result.ok
        places: list[tuple[str, str, str]] = []
        for span in capture.otel.finished():
            for name, value in (span.attributes or {}).items():
                if canary not in str(value):
                    continue
                for message in json.loads(str(value)):
                    for part in message["parts"]:
                        if canary in json.dumps(part):
                            assert part == {"type": "reasoning", "content": part["content"]}
                            places.append((span.name, name, message["role"]))
            for event in span.events:
                assert canary not in json.dumps(dict(event.attributes or {}))
        assert sorted(places) == [
            ("chat deepseek-v4-pro", "gen_ai.input.messages", "assistant"),  # replayed in-turn
            ("chat deepseek-v4-pro", "gen_ai.output.messages", "assistant"),
            ("chat deepseek-v4-pro", "gen_ai.output.messages", "assistant"),
        ]
        data = capture.otel.metrics.get_metrics_data()
        assert data is not None and canary not in data.to_json()
        assert canary not in "\n".join(r.to_json() for r in capture.logs.get_finished_logs())
