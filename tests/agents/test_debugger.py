"""The debugger agent end to end: real HTTP to a fake model, a real sandbox, real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from debug_project import (
    CANARY,
    GOOD_PATCH,
    STALE_PATCH,
    WRONG_PATCH,
    backend_for,
    copy_project,
    fix,
    snapshot,
)

from ponder.agents import Agent, FinalEvent
from ponder.agents.debugger import DebuggerAgent, build_debugger_agent
from ponder.graphs import ReasoningEvent, ToolResultEvent
from ponder.graphs.debug import DebugReport, TracebackExplanation
from ponder.memory import MemoryStore
from ponder.testing import FakeModelServer, ToolCallSpec, Turn


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


def user_text(body: dict[str, Any] | None) -> str:
    assert body is not None
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")


@pytest.mark.sandbox
async def test_reproduces_diagnoses_retries_and_fixes_in_the_sandbox(
    project: Path, tmp_path: Path
) -> None:
    before = snapshot(project)
    script = [
        Turn(
            reasoning=CANARY,
            tool_calls=[
                ToolCallSpec(
                    "run_python", {"code": "import stats\nstats.moving_average([1, 2, 3], 1)"}
                )
            ],
        ),
        fix(STALE_PATCH),
        fix(WRONG_PATCH, "the mean divides by the wrong length"),
        fix(GOOD_PATCH),
    ]
    memory = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server) as backend:
            agent = build_debugger_agent(
                backend=backend,
                memory=memory,
                project=project,
                command="python -m unittest",
                tools=[],
            )
            assert isinstance(agent, DebuggerAgent)
            events = [event async for event in agent.astream("tests fail", thread_id="t1")]
        bodies = [r.body for r in server.requests]
    await memory.aclose()

    final = events[-1]
    assert isinstance(final, FinalEvent)
    result = final.result
    report = result.answer
    assert isinstance(report, DebugReport)
    assert result.outcome == "answered" and report.status == "fixed"
    assert not report.before.passed and "FAILED (failures=2)" in report.before.output
    assert report.after is not None and report.after.passed and "OK" in report.after.output
    assert [a.error is not None for a in report.attempts] == [True, False, False]
    assert "hunk 1" in (report.attempts[0].error or "")
    assert report.attempts[1].result is not None and not report.attempts[1].result.passed
    assert report.patch == GOOD_PATCH and report.applied_to_project == []
    assert snapshot(project) == before  # the user's files are untouched
    # the model saw the failure, then the evidence of each failed attempt
    assert "FAILED (failures=2)" in user_text(bodies[0])
    assert "It did not apply" in user_text(bodies[2])
    assert "still fails" in user_text(bodies[3])
    tool_outputs = [e.output for e in events if isinstance(e, ToolResultEvent)]
    assert tool_outputs == [result.tool_calls[0].output] and tool_outputs[0].endswith("[1.0, 2.0]")
    streamed = "".join(e.text for e in events if isinstance(e, ReasoningEvent))
    assert streamed.count(CANARY) == 4
    assert result.reasoning.split("\n\n") == [CANARY] * 4  # each model call's thought apart
    assert CANARY not in (result.answer_text or "") and CANARY not in json.dumps(
        result.to_json_dict(), default=str
    )
    reopened = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    turns = await reopened.turns("t1")
    await reopened.aclose()
    assert (
        len(turns) == 1
        and "Status: fixed" in turns[0].answer
        and GOOD_PATCH.strip() in turns[0].answer
    )
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("memory.db*")))  # noqa: ASYNC240
    assert CANARY.encode() not in raw


@pytest.mark.sandbox
async def test_apply_writes_the_passing_patch_to_the_project(project: Path) -> None:
    with FakeModelServer([fix(GOOD_PATCH)], shape="deepseek") as server:
        async with backend_for(server) as backend:
            agent = build_debugger_agent(
                backend=backend, project=project, command="python -m unittest", apply=True, tools=[]
            )
            result = await agent.arun("")
    report = result.answer
    assert isinstance(report, DebugReport)
    assert report.status == "fixed" and report.applied_to_project == ["stats.py"]
    assert "range(len(values) - window + 1)" in (project / "stats.py").read_text()


@pytest.mark.sandbox
async def test_attempts_run_out_with_a_clear_outcome_and_nothing_applied(project: Path) -> None:
    before = snapshot(project)
    with FakeModelServer([fix(WRONG_PATCH)], shape="deepseek") as server:
        async with backend_for(server) as backend:
            agent = build_debugger_agent(
                backend=backend,
                project=project,
                command="python -m unittest",
                apply=True,
                max_attempts=1,
                tools=[],
            )
            result = await agent.arun("")
    report = result.answer
    assert isinstance(report, DebugReport)
    assert result.outcome == "max_steps" and not result.ok
    assert report.status == "not_fixed" and len(report.attempts) == 1
    assert report.after is not None and not report.after.passed
    assert snapshot(project) == before


@pytest.mark.sandbox
async def test_a_passing_command_needs_no_model(project: Path) -> None:
    with FakeModelServer([], shape="deepseek") as server:
        async with backend_for(server) as backend:
            agent = build_debugger_agent(
                backend=backend, project=project, command="python -c 'print(42)'", tools=[]
            )
            result = await agent.arun("")
        assert server.requests == []
    report = result.answer
    assert isinstance(report, DebugReport)
    assert report.status == "already_passing" and report.before.output.strip() == "42"


async def test_explain_mode_answers_with_a_structured_explanation() -> None:
    explanation = {
        "root_cause": "d is None when the key is missing",
        "location": "app.py line 3, in total",
        "explanation": "get() returned None, then None + 1 raised",
        "suggested_fix": "use d.get(key, 0)",
    }
    traceback_text = (
        'Traceback (most recent call last):\n  File "app.py", line 3, in total\n'
        "TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'"
    )
    with FakeModelServer(
        [Turn(reasoning=CANARY, content=json.dumps(explanation))], shape="deepseek"
    ) as server:
        async with backend_for(server) as backend:
            agent = build_debugger_agent(backend=backend, mode="explain", tools=[])
            assert type(agent) is Agent
            result = await agent.arun(traceback_text)
        body = server.requests[0].body
    assert isinstance(result.answer, TracebackExplanation)
    assert result.answer.location == "app.py line 3, in total"
    assert body is not None and traceback_text in user_text(body)
    assert "Explain the traceback" in body["messages"][0]["content"]


async def test_bad_configuration_is_refused_clearly(tmp_path: Path) -> None:
    with FakeModelServer([], shape="deepseek") as server:
        async with backend_for(server) as backend:
            with pytest.raises(ValueError, match="needs a project folder and a command"):
                build_debugger_agent(backend=backend, tools=[])
            with pytest.raises(ValueError, match="does not exist"):
                build_debugger_agent(
                    backend=backend, project=tmp_path / "nope", command="x", tools=[]
                )
            with pytest.raises(ValueError, match="unknown debugger mode"):
                build_debugger_agent(backend=backend, mode="fixx", tools=[])  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="max_attempts"):
                build_debugger_agent(
                    backend=backend, project=tmp_path, command="x", max_attempts=0, tools=[]
                )
