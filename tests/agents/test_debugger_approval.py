"""The debugger's apply step under an approval policy: real sandbox, real SQLite, fake model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from debug_project import (
    CANARY,
    FIXED_LINE,
    GOOD_PATCH,
    backend_for,
    copy_project,
    fix,
    snapshot,
)

from ponder.agents import Approve, Edit, InvalidDecision, Reject, RunNotClaimable, ThreadBusy
from ponder.agents.debugger import DebuggerAgent
from ponder.backends import OpenAICompatibleBackend
from ponder.graphs.debug import APPLY_PATCH, DebugReport
from ponder.memory import MemoryStore, scan_files_for, sqlite_artifacts
from ponder.testing import FakeModelServer

pytestmark = pytest.mark.sandbox

COMMAND = "python -m unittest"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    store = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    yield store
    await store.aclose()


def debugger(
    backend: OpenAICompatibleBackend,
    project: Path,
    memory: MemoryStore | None,
    *,
    approvals: dict[str, Any] | None = None,
    command: str = COMMAND,
) -> DebuggerAgent:
    return DebuggerAgent(
        backend,
        project=project,
        command=command,
        memory=memory,
        apply=True,
        approvals={APPLY_PATCH: "always"} if approvals is None else approvals,
    )


def report_of(answer: object) -> DebugReport:
    assert isinstance(answer, DebugReport)
    return answer


async def test_approve_pauses_before_writing_then_writes_the_tested_patch_once(
    project: Path, memory: MemoryStore, tmp_path: Path
) -> None:
    before = snapshot(project)
    with FakeModelServer([fix(GOOD_PATCH)], shape="deepseek") as server:
        async with backend_for(server) as backend:
            agent = debugger(backend, project, memory)
            paused = await agent.arun("tests fail", thread_id="t1")
            assert paused.outcome == "awaiting_approval" and paused.answer is None
            [call] = paused.pending
            assert (call.call_id, call.tool, call.editable) == (APPLY_PATCH, APPLY_PATCH, False)
            assert call.arguments == {"files": ["stats.py"], "patch": GOOD_PATCH}
            assert "range() stops one window early" in call.intent and COMMAND in call.intent
            assert CANARY not in call.model_dump_json()
            assert snapshot(project) == before  # nothing written before the decision
            with pytest.raises(ThreadBusy):
                await agent.arun("again", thread_id="t1")
            done = await agent.aresume(paused.run_id, {call.call_id: Approve()})
            with pytest.raises(RunNotClaimable):  # finished: nothing runs (or writes) again
                await agent.aresume(paused.run_id, {call.call_id: Approve()})
            again = await agent.result_of(paused.run_id)
        assert len(server.requests) == 1  # the decision needed no model call
    report = report_of(done.answer)
    assert done.ok and done.run_id == paused.run_id
    assert report.status == "fixed" and report.applied_to_project == ["stats.py"]
    assert "Applied to the project: stats.py" in (done.answer_text or "")
    assert again is not None and report_of(again.answer) == report
    text = (project / "stats.py").read_text()
    assert text.count(FIXED_LINE) == 1 and text.count("range(len(values)") == 1
    [turn] = await memory.turns("t1")
    assert "Applied to the project: stats.py" in turn.answer
    db = Path(str(memory.engine.url.database))
    await memory.aclose()
    assert scan_files_for(CANARY, sqlite_artifacts(db)) == []


async def test_reject_writes_nothing_and_the_report_gives_the_message(
    project: Path, memory: MemoryStore
) -> None:
    before = snapshot(project)
    with FakeModelServer([fix(GOOD_PATCH)], shape="deepseek") as server:
        async with backend_for(server) as backend:
            agent = debugger(backend, project, memory)
            paused = await agent.arun("")
            decision = {APPLY_PATCH: Reject("not before the release")}
            done = await agent.aresume(paused.run_id, decision)
    report = report_of(done.answer)
    assert done.ok and report.status == "fixed"
    assert report.apply_rejected == "not before the release" and report.applied_to_project == []
    assert "Not applied to the project: rejected (not before the release)" in (
        done.answer_text or ""
    )
    assert snapshot(project) == before


async def test_an_edit_is_refused_in_one_line_and_the_run_still_waits(
    project: Path, memory: MemoryStore
) -> None:
    before = snapshot(project)
    with FakeModelServer([fix(GOOD_PATCH)], shape="deepseek") as server:
        async with backend_for(server) as backend:
            agent = debugger(backend, project, memory)
            paused = await agent.arun("")
            edited = Edit({"files": ["stats.py"], "patch": GOOD_PATCH.replace("+ 1", "+ 2")})
            with pytest.raises(InvalidDecision) as refused:
                await agent.aresume(paused.run_id, {APPLY_PATCH: edited})
            assert str(refused.value) == (
                "the 'apply_patch' call cannot be edited: approve or reject it"
            )
            assert [c.call_id for c in await agent.pending(paused.run_id)] == [APPLY_PATCH]
            assert snapshot(project) == before
            done = await agent.aresume(paused.run_id, {APPLY_PATCH: Approve()})
    assert report_of(done.answer).applied_to_project == ["stats.py"]


async def test_a_new_agent_on_the_same_database_resumes_the_paused_run(
    project: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    with FakeModelServer([fix(GOOD_PATCH)], shape="deepseek") as server:
        async with backend_for(server) as backend:
            first = MemoryStore.from_url(url)
            async with debugger(backend, project, first) as agent:
                paused = await agent.arun("")
            await first.aclose()
            second = MemoryStore.from_url(url)
            try:
                other = debugger(backend, project, second, command="python -m pytest")
                with pytest.raises(RunNotClaimable, match="resume it with that project"):
                    await other.aresume(paused.run_id, {APPLY_PATCH: Approve()})
                async with debugger(backend, project, second, approvals={}) as agent:
                    # the decision holds even where the resuming agent has no policy
                    assert [c.tool for c in await agent.pending(paused.run_id)] == [APPLY_PATCH]
                    done = await agent.aresume(paused.run_id, {APPLY_PATCH: Approve()})
            finally:
                await second.aclose()
        assert len(server.requests) == 1
    assert report_of(done.answer).applied_to_project == ["stats.py"]
    assert (project / "stats.py").read_text().count(FIXED_LINE) == 1
    files = sqlite_artifacts(tmp_path / "memory.db")
    assert scan_files_for("stops one window early", files) != []  # the run's state is there
    assert scan_files_for(CANARY, files) == []  # its reasoning is not


async def test_a_predicate_asks_only_for_the_files_it_names(project: Path) -> None:
    with FakeModelServer([fix(GOOD_PATCH)], shape="deepseek") as server:
        async with backend_for(server) as backend:
            policy = {APPLY_PATCH: lambda args: "setup.py" in args["files"]}
            async with debugger(backend, project, None, approvals=policy) as agent:
                result = await agent.arun("")
    assert result.outcome == "answered"
    assert report_of(result.answer).applied_to_project == ["stats.py"]


async def test_only_apply_patch_has_a_policy(project: Path) -> None:
    with FakeModelServer([], shape="deepseek") as server:
        async with backend_for(server) as backend:
            with pytest.raises(ValueError, match="'apply_patch' only, not run_python"):
                debugger(backend, project, None, approvals={"run_python": "always"})


@pytest.mark.parametrize(("started_asking", "pauses"), [(True, True), (False, False)])
async def test_a_run_started_under_a_policy_asks_when_resumed_without_one(
    project: Path, started_asking: bool, pauses: bool
) -> None:
    # A worker that died before the apply step: whoever resumes the run with no
    # policy of its own must still ask if the run began under one.
    from langgraph.checkpoint.memory import InMemorySaver

    from ponder.graphs.debug import DebugContext, build_debug_graph
    from ponder.graphs.debug_sandbox import CommandRun, SandboxProject

    graph = build_debug_graph(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "died-before-apply"}}
    failing = CommandRun(command=COMMAND, exit_code=1, output="FAILED")
    report = DebugReport(
        status="fixed",
        command=COMMAND,
        root_cause="range() stops one window early",
        patch=GOOD_PATCH,
        before=failing,
        after=CommandRun(command=COMMAND, exit_code=0, output="OK"),
        attempts=[],
    )
    state = {"project": str(project), "command": COMMAND, "apply": True, "report": report}
    await graph.aupdate_state(config, {**state, "apply_asks": started_asking}, as_node="report")
    with FakeModelServer([], shape="deepseek") as server:
        async with backend_for(server) as backend:
            sandbox = SandboxProject(project)
            try:
                context = DebugContext(backend=backend, project=sandbox, command=COMMAND)
                async for _ in graph.astream(None, config, context=context):
                    pass
            finally:
                await sandbox.aclose()
    snapshot_after = await graph.aget_state(config)
    assert bool(snapshot_after.interrupts) is pauses
    assert ((project / "stats.py").read_text().count(FIXED_LINE) == 1) is not pauses
