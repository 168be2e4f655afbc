"""Background runs on a real DBOS queue: submit now, collect later, recover after kill -9.

Each in-process test launches DBOS in its own server's lifespan and destroys
it when the server stops (DBOS is process-wide); the kill -9 test runs its
workers as subprocesses (the crash tests' harness: tests/durable/worker.py
with PONDER_TEST_QUEUE=1).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from durable.test_crash_resume import (
    CANARY,
    fresh_pg_database,
    pg_dump,
    pg_rows,
    started,
    turns,
    wait_for,
    worker,
)
from server_harness import fake_agent, last_user_text, serving

import ponder.agents.queue as queue_module
from ponder.agents import Agent
from ponder.agents.queue import QUEUE_HINT, QueueSettings, QueueUnavailable, require_dbos
from ponder.backends import OpenAICompatibleBackend
from ponder.cli._common import EXIT_USAGE
from ponder.memory import MemoryStore, RunLedger, scan_files_for, sqlite_artifacts
from ponder.server import create_app
from ponder.testing import FakeModelServer, ToolCallSpec, Turn
from ponder.tools import Tool

FAST = QueueSettings(polling_interval_s=0.1)
_ENDED = ("done", "awaiting_approval", "failed", "cancelled")


@pytest.fixture(autouse=True)
def dbos_is_left_clean() -> Iterator[None]:
    """Every test stops the DBOS it launched, so nothing leaks into the next test."""
    yield
    assert queue_module._ACTIVE is None, "a test left DBOS running"


def adding_script() -> list[Turn]:
    return [
        Turn(
            reasoning=f"{CANARY} adding",
            content="Let me add them.",
            tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})],
        ),
        Turn(reasoning=f"{CANARY} done", content="It is 5."),
    ]


async def collect(
    client: httpx.AsyncClient, run_id: str, *, until: tuple[str, ...] = _ENDED
) -> dict[str, Any]:
    """``GET /runs/{run_id}`` until the run has ended or paused (or reached ``until``)."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get(f"/runs/{run_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in until:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)


def tables_mentioning(db: Path, needle: str) -> dict[str, list[str]]:
    """Each table's rows (as text) that contain ``needle``: DBOS's tables sit beside ponder's."""
    found: dict[str, list[str]] = {}
    with sqlite3.connect(db) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for name in names:
            for row in conn.execute(f'SELECT * FROM "{name}"'):
                text = " ".join(map(str, row))
                if needle in text:
                    found.setdefault(name, []).append(text)
    return found


async def test_submit_then_collect_on_sqlite(memory: MemoryStore, memory_db: Path) -> None:
    async with (
        fake_agent(adding_script(), memory) as (agent, _model),
        serving(create_app({"calc": agent}, memory=memory, background=FAST)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        begun = time.monotonic()
        body = {"question": "2+3?", "thread_id": "t1", "background": True}
        submitted = await client.post("/agents/calc/runs", json=body)
        assert submitted.status_code == 202, submitted.text
        run = submitted.json()
        assert run["status"] == "queued" and run["thread_id"] == "t1"
        assert submitted.headers["location"] == f"/runs/{run['run_id']}"
        again = await client.post("/agents/calc/runs", json=body)  # queued or running: taken
        assert again.status_code == 409, again.text

        done = await collect(client, run["run_id"])
        latency = time.monotonic() - begun
        assert done["status"] == "done" and done["outcome"] == "answered", done
        assert done["answer"] == "It is 5." and done["pending"] == [] and done["error"] is None
        [turn] = await memory.turns("t1")
        assert turn.answer == done["answer"]  # stored == collected

        missing = await client.get("/runs/no-such-run")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "run_not_found"
        print(f"submit -> collect: {latency * 1000:.0f} ms (first run after start-up)")
    stored = tables_mentioning(memory_db, '{"outcome":"answered","answer":"It is 5."}')
    assert "workflow_status" in tables_mentioning(memory_db, run["run_id"])
    assert stored, "DBOS keeps the workflow's output as plain JSON in the memory's file"
    await memory.aclose()
    assert scan_files_for(CANARY, sqlite_artifacts(memory_db)) == []


async def test_a_paused_background_run_is_decided_then_collected(
    memory: MemoryStore, memory_db: Path
) -> None:
    async with (
        fake_agent(adding_script(), memory, approvals={"add": "always"}) as (agent, model),
        serving(create_app({"calc": agent}, memory=memory, background=FAST)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        body = {"question": "2+3?", "thread_id": "t2", "background": True}
        run_id = (await client.post("/agents/calc/runs", json=body)).json()["run_id"]
        paused = await collect(client, run_id)
        assert paused["status"] == "awaiting_approval", paused
        assert paused["outcome"] == "awaiting_approval" and paused["answer"] is None
        [call] = paused["pending"]
        assert (call["tool"], call["arguments"]) == ("add", {"a": 2, "b": 3})
        busy = await client.post("/agents/calc/runs", json={**body, "question": "x"})
        assert busy.status_code == 409

        decided = await client.post(
            f"/runs/{run_id}/decisions",
            json={"decisions": [{"call_id": call["call_id"], "action": "approve"}]},
        )
        assert decided.status_code == 200, decided.text
        done = (await client.get(f"/runs/{run_id}")).json()
        assert done["status"] == "done" and done["outcome"] == "answered", done
        assert done["answer"] == decided.json()["answer"] == "It is 5."
        assert len(model.requests) == 2  # the model was not asked again to collect
    await memory.aclose()
    assert scan_files_for(CANARY, sqlite_artifacts(memory_db)) == []


@pytest.mark.slow
async def test_ponder_serve_queue_concurrency_holds_the_second_run_back(tmp_path: Path) -> None:
    """``ponder serve --queue --queue-concurrency 1``: one run at a time, the next one queued."""
    from ponder.cli.serve import add_arguments, build_app

    def script(body: dict[str, Any]) -> Turn:
        return Turn(content=f"answer to {last_user_text(body)}", first_byte_delay_s=0.5)

    with FakeModelServer(script, shape="vllm") as model:
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        queue = ["--queue", "--queue-concurrency", "1", "--agent", "react", "--no-page"]
        memory = ["--memory", f"sqlite:///{tmp_path / 'memory.db'}"]
        backend = ["--base-url", model.base_url, "--model", "r1", "--api-key", "sk-x"]
        args = parser.parse_args([*queue, *memory, *backend])
        async with (
            serving(build_app(args)) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            first, second = [
                (
                    await client.post(
                        "/agents/react/runs",
                        json={"question": q, "thread_id": q, "background": True},
                    )
                ).json()["run_id"]
                for q in ("one", "two")
            ]
            await collect(client, first, until=("running",))
            assert (await client.get(f"/runs/{second}")).json()["status"] == "queued"
            answers = [(await collect(client, run))["answer"] for run in (first, second)]
    assert answers == ["answer to one", "answer to two"]


async def test_a_run_cut_by_shutdown_is_resumed_by_the_next_start(
    memory: MemoryStore, memory_db: Path
) -> None:
    started_calls: list[str] = []
    first_call = asyncio.Event()

    async def note(text: str) -> str:
        """Record a note (slowly the first time).

        Args:
            text: the note
        """
        started_calls.append(text)
        first_call.set()
        if len(started_calls) == 1:
            await asyncio.sleep(30)  # the server stops meanwhile
        return f"noted {text}"

    script = [
        Turn(
            reasoning=f"{CANARY} noting",
            content="Noting.",
            tool_calls=[ToolCallSpec("note", {"text": "a"})],
        ),
        Turn(reasoning=f"{CANARY} done", content="Noted."),
    ]
    with FakeModelServer(script, shape="deepseek") as model:
        backend = OpenAICompatibleBackend(
            base_url=model.base_url, model="deepseek-v4-pro", api_key="sk-x", profile="deepseek"
        )
        async with backend:
            agent = Agent(backend, [Tool.from_function(note)], memory=memory)

            def app() -> Any:
                return create_app(
                    {"calc": agent}, memory=memory, background=FAST, shutdown_timeout_s=0.2
                )

            async with (
                serving(app()) as url,
                httpx.AsyncClient(base_url=url, timeout=30) as client,
            ):
                body = {"question": "note a", "thread_id": "cut", "background": True}
                run_id = (await client.post("/agents/calc/runs", json=body)).json()["run_id"]
                await asyncio.wait_for(first_call.wait(), 30)
            left = await RunLedger.for_store(memory).get(run_id)
            assert left is not None and left.abandoned, left  # resumable, not cancelled
            async with (
                serving(app()) as url,
                httpx.AsyncClient(base_url=url, timeout=30) as client,
            ):
                done = await collect(client, run_id)
            await agent.aclose()
    assert done["status"] == "done" and done["answer"] == "Noted.", done
    assert started_calls == ["a", "a"]  # the call cut mid-way runs again
    assert len(model.requests) == 2  # the first model call was not repeated
    [turn] = await memory.turns("cut")
    assert turn.answer == "Noted."
    await memory.aclose()
    assert scan_files_for(CANARY, sqlite_artifacts(memory_db)) == []


async def test_without_dbos_or_without_the_queue_the_answer_says_what_to_do(
    memory: MemoryStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "dbos", None)  # as if not installed
        with pytest.raises(QueueUnavailable, match=r"pip install 'ponder\[queue\]'"):
            require_dbos()
        with pytest.raises(QueueUnavailable) as raised:
            create_app({"calc": lambda: None}, memory=memory, background=FAST)  # type: ignore[dict-item, return-value]
        assert str(raised.value) == QUEUE_HINT and "\n" not in QUEUE_HINT
        from ponder.cli import main

        with pytest.raises(SystemExit) as exited:
            main(["serve", "--queue", "--memory", str(memory.engine.url)])
        assert exited.value.code == EXIT_USAGE
        assert capsys.readouterr().err == f"ponder: {QUEUE_HINT}\n"

    app = create_app({"calc": lambda: None}, memory=memory)  # type: ignore[dict-item, return-value]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        body = {"question": "2+3?", "background": True}
        off = await client.post("/agents/calc/runs", json=body)
        assert off.status_code == 501 and "--queue" in off.json()["error"]["message"]
        assert (await client.get("/runs/anything")).status_code == 501


@pytest.mark.slow
@pytest.mark.postgres
async def test_submit_then_collect_on_postgres() -> None:
    with fresh_pg_database() as url:
        store = MemoryStore.from_url(url)
        try:
            async with (
                fake_agent(adding_script(), store) as (agent, _model),
                serving(create_app({"calc": agent}, memory=store, background=FAST)) as base,
                httpx.AsyncClient(base_url=base, timeout=30) as client,
            ):
                body = {"question": "2+3?", "thread_id": "pg", "background": True}
                run_id = (await client.post("/agents/calc/runs", json=body)).json()["run_id"]
                done = await collect(client, run_id)
                assert done["status"] == "done" and done["answer"] == "It is 5.", done
                [turn] = await store.turns("pg")
                assert turn.answer == done["answer"]
                await agent.aclose()  # its checkpointer's connection, before the loop ends
        finally:
            await store.aclose()
        [(status,)] = pg_rows(
            url, f"SELECT status FROM dbos.workflow_status WHERE workflow_uuid = '{run_id}'"
        )
        assert status == "SUCCESS"  # DBOS lives in the memory's database, schema dbos
        dump = pg_dump(url)
    # DBOS's output is plain JSON the scan can read (the dump doubles quotes in row text)
    assert '"answer":"It is 5."' in dump.replace('""', '"')
    assert CANARY not in dump


@pytest.mark.slow
@pytest.mark.parametrize(
    "second_env",
    [
        # DBOS's own recovery at launch: same executor id, no lease recovery
        {"PONDER_TEST_NO_RECOVERY": "1"},
        # another executor (as each of --workers N is): the lease puts it back on the queue
        {"DBOS__VMID": "another-worker"},
    ],
    ids=["dbos-launch-recovery", "lease-requeues-for-any-worker"],
)
def test_kill_9_mid_run_then_a_second_worker_finishes_it(
    tmp_path: Path, second_env: dict[str, str]
) -> None:
    db = tmp_path / "memory.db"
    memory_url = f"sqlite:///{db}"
    counter = tmp_path / "count"
    calls = [ToolCallSpec("fast", {"note": "a"}), ToolCallSpec("slow", {"note": "b"})]
    script = [
        Turn(reasoning=f"{CANARY} two notes", content="Recording.", tool_calls=calls),
        # the second model call hangs; the worker dies while waiting for it
        Turn(reasoning=f"{CANARY} hang", content="never", first_byte_delay_s=20),
        Turn(reasoning=f"{CANARY} finish", content="Both notes are recorded."),
    ]
    env = {"PONDER_TEST_QUEUE": "1", "PONDER_TEST_SLOW_S": "0.1"}
    body = {"question": "record it", "thread_id": "bg-crash", "background": True}
    with FakeModelServer(script, shape="deepseek") as model:
        with worker(memory_url, model.base_url, counter, **env) as (first, process):
            submitted = httpx.post(f"{first}/agents/calc/runs", json=body, timeout=30)
            assert submitted.status_code == 202, submitted.text
            run_id = submitted.json()["run_id"]
            wait_for(lambda: len(model.requests) == 2, "the second model call")
            process.send_signal(signal.SIGKILL)
            process.wait()
        with worker(memory_url, model.base_url, counter, **env, **second_env) as (
            second,
            _process,
        ):
            begun = time.monotonic()

            def ended() -> bool:
                status = httpx.get(f"{second}/runs/{run_id}", timeout=10).json()["status"]
                return status in _ENDED

            wait_for(ended, "the recovered run", timeout_s=60)
            recovery = time.monotonic() - begun
            done = httpx.get(f"{second}/runs/{run_id}", timeout=10).json()
    print(f"recovered {recovery * 1000:.0f} ms after the second worker was up")
    assert done["status"] == "done" and done["answer"] == "Both notes are recorded.", done
    assert sorted(started(counter)) == ["fast", "slow"]  # each tool ran once
    assert len(model.requests) == 3  # resumed at the interrupted call, not started over
    resumed = model.requests[-1].body
    assert resumed is not None and all(not m.get("tool_calls") for m in resumed["messages"])
    assert turns(db) == [("record it", "Both notes are recorded.")]
    assert tables_mentioning(db, '"answer":"Both notes are recorded."')  # DBOS's output
    assert scan_files_for(CANARY, sqlite_artifacts(db)) == []
