"""Approvals and resuming through the Python API: real HTTP, real SQLite, real LangGraph."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ponder.agents import (
    Agent,
    Approve,
    Edit,
    InvalidDecision,
    Reject,
    RunNotClaimable,
    RunNotFound,
    ThreadBusy,
)
from ponder.backends import OpenAICompatibleBackend
from ponder.graphs.resume_fold import FOLD_HEADER
from ponder.memory import MemoryStore, scan_files_for, sqlite_artifacts
from ponder.testing import FakeModelServer, ToolCallSpec, Turn
from ponder.tools import Tool


def counting_tool(counter: Path) -> Tool:
    def send_mail(to: str, body: str) -> str:
        """Send an e-mail.

        Args:
            to: the address
            body: the text
        """
        with counter.open("a") as f:
            f.write(f"{to}\n")
        return f"sent to {to}"

    return Tool.from_function(send_mail)


def backend_for(server: FakeModelServer, profile: str) -> OpenAICompatibleBackend:
    model = {"deepseek": "deepseek-v4-pro", "deepseek-r1": "deepseek-reasoner"}.get(
        profile, "fake-r1"
    )
    return OpenAICompatibleBackend(
        base_url=server.base_url, model=model, api_key="sk-test", profile=profile
    )


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    store = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    yield store
    await store.aclose()


def mail_script(canary: str, *, to: str = "bob@example.com") -> list[Turn]:
    return [
        Turn(
            reasoning=f"{canary} I should mail Bob",
            content="I will mail Bob the summary.",
            tool_calls=[ToolCallSpec("send_mail", {"to": to, "body": "hi"})],
        ),
        Turn(reasoning=f"{canary} sent", content="Done: the mail went out."),
    ]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_approve_pauses_then_runs_the_call_once(memory: MemoryStore, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    canary = "CANARY-approve-7f3a"
    with FakeModelServer(mail_script(canary), shape="deepseek") as server:
        async with backend_for(server, "deepseek") as backend:
            agent = Agent(
                backend, [counting_tool(counter)], memory=memory, approvals={"send_mail": "always"}
            )
            paused = await agent.arun("Mail Bob the summary")
            assert paused.outcome == "awaiting_approval" and not paused.ok
            [call] = paused.pending
            assert (call.tool, call.arguments) == (
                "send_mail",
                {"to": "bob@example.com", "body": "hi"},
            )
            assert call.intent == "I will mail Bob the summary."
            assert canary not in call.model_dump_json()
            assert lines(counter) == []  # nothing ran before the decision
            with pytest.raises(ThreadBusy):  # the thread waits for the decision
                await agent.arun("something else", thread_id=paused.thread_id)
            done = await agent.aresume(paused.run_id, {call.call_id: Approve()})
            with pytest.raises(RunNotClaimable):
                await agent.aresume(paused.run_id, {call.call_id: Approve()})
    assert done.answer == "Done: the mail went out." and done.run_id == paused.run_id
    assert lines(counter) == ["bob@example.com"]
    [turn] = await memory.turns(paused.thread_id)
    assert turn.question == "Mail Bob the summary" and turn.answer == done.answer
    # V4 wants reasoning back on tool-call messages; the pre-pause call is folded instead
    last = server.requests[-1].body["messages"]
    assert all(not m.get("tool_calls") for m in last)
    assert FOLD_HEADER in json.dumps(last) and "sent to bob@example.com" in json.dumps(last)
    db = Path(str(memory.engine.url.database))
    await memory.aclose()
    assert scan_files_for(canary, sqlite_artifacts(db)) == []


async def test_reject_tells_the_model_and_runs_nothing(memory: MemoryStore, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    script = [*mail_script("r")[:1], Turn(content="OK, I will not send it.")]
    with FakeModelServer(script, shape="deepseek-r1") as server:
        async with backend_for(server, "deepseek-r1") as backend:
            agent = Agent(
                backend, [counting_tool(counter)], memory=memory, approvals={"send_mail": "always"}
            )
            paused = await agent.arun("Mail Bob")
            decision = {paused.pending[0].call_id: Reject(message="Bob is on holiday")}
            done = await agent.aresume(paused.run_id, decision)
    assert done.answer == "OK, I will not send it."
    assert lines(counter) == []
    assert done.tool_calls[0].error_kind == "rejected"
    sent = json.dumps(server.requests[-1].body)
    assert "Bob is on holiday" in sent and "reasoning_content" not in sent  # legacy R1 rule


async def test_edit_is_validated_then_runs_with_new_arguments(
    memory: MemoryStore, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    with FakeModelServer(mail_script("e"), shape="openrouter") as server:
        async with backend_for(server, "openrouter") as backend:
            agent = Agent(
                backend, [counting_tool(counter)], memory=memory, approvals={"send_mail": "always"}
            )
            paused = await agent.arun("Mail Bob")
            call_id = paused.pending[0].call_id
            with pytest.raises(InvalidDecision, match="to"):
                await agent.aresume(paused.run_id, {call_id: Edit(arguments={"body": "x"})})
            with pytest.raises(InvalidDecision, match="waiting for decisions"):
                await agent.aresume(paused.run_id, {})
            edited = Edit(arguments={"to": "carol@example.com", "body": "hi"})
            done = await agent.aresume(paused.run_id, {call_id: edited})
    assert done.ok and lines(counter) == ["carol@example.com"]
    assert all("reasoning_details" not in m for m in server.requests[-1].body["messages"])


async def test_a_predicate_decides_per_call(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    script = mail_script("p", to="me@example.com")

    def outside(arguments: dict[str, Any]) -> bool:
        return not str(arguments["to"]).endswith("@example.com")

    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek") as backend:
            agent = Agent(backend, [counting_tool(counter)], approvals={"send_mail": outside})
            result = await agent.arun("Mail me")  # no memory: checkpoints in process memory
    assert result.ok and lines(counter) == ["me@example.com"]


async def test_unknown_run_and_unknown_tool_policy(memory: MemoryStore) -> None:
    with FakeModelServer([], shape="deepseek") as server:
        async with backend_for(server, "deepseek") as backend:
            agent = Agent(backend, [], memory=memory)
            with pytest.raises(RunNotFound):
                await agent.aresume("no-such-run")
            with pytest.raises(KeyError, match="nope"):
                Agent(backend, [], approvals={"nope": "always"})


@pytest.mark.parametrize("shape", ["deepseek", "deepseek-r1", "openrouter", "raw"])
async def test_resume_from_a_fresh_process_state_on_every_contract(
    shape: str, tmp_path: Path
) -> None:
    """A new Agent and a new store on the same file (what another process has) finish the run."""
    counter = tmp_path / "count"
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    canary = f"CANARY-{shape}-91c2"
    profile = {"raw": "openai-compatible"}.get(shape, shape)
    with FakeModelServer(mail_script(canary), shape=shape) as server:
        first_store = MemoryStore.from_url(url)
        async with backend_for(server, profile) as backend:
            first = Agent(
                backend,
                [counting_tool(counter)],
                memory=first_store,
                approvals={"send_mail": "always"},
            )
            paused = await first.arun("Mail Bob")
            await first.aclose()
        await first_store.aclose()

        second_store = MemoryStore.from_url(url)
        async with backend_for(server, profile) as backend:
            second = Agent(
                backend,
                [counting_tool(counter)],
                memory=second_store,
                approvals={"send_mail": "always"},
            )
            done = await second.aresume(paused.run_id, {paused.pending[0].call_id: Approve()})
            await second.aclose()
        assert len(await second_store.turns(paused.thread_id)) == 1
        await second_store.aclose()
    assert done.answer == "Done: the mail went out." and lines(counter) == ["bob@example.com"]
    assert len(server.requests) == 2  # no 400 and no retry: each request was accepted
    assert scan_files_for(canary, sqlite_artifacts(tmp_path / "memory.db")) == []


async def test_decisions_hold_even_if_the_resuming_agent_has_no_policy(
    memory: MemoryStore, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    script = [*mail_script("x")[:1], Turn(content="Not sent.")]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek") as backend:
            asking = Agent(
                backend, [counting_tool(counter)], memory=memory, approvals={"send_mail": "always"}
            )
            paused = await asking.arun("Mail Bob")
            trusting = Agent(backend, [counting_tool(counter)], memory=memory)
            decision = {paused.pending[0].call_id: Reject(message="not now")}
            done = await trusting.aresume(paused.run_id, decision)
    assert done.answer == "Not sent." and lines(counter) == []


def test_decisions_take_their_contract_arguments_positionally() -> None:
    assert Reject("not now").message == "not now" == Reject(message="not now").message
    assert Edit({"to": "x"}).arguments == {"to": "x"} == Edit(arguments={"to": "x"}).arguments
    assert Reject().message and Edit().arguments == {}
