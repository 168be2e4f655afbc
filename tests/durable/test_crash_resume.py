"""kill -9 of a real server worker, then a second worker finishes the run.

Each test starts a worker subprocess (tests/durable/worker.py: uvicorn, a
real Agent, the memory database), kills it with SIGKILL at a chosen point,
starts a second worker on the same database, which recovers the abandoned
run at start-up, and follows the run from the second worker with
``GET /runs/{run_id}/events`` (an SSE reconnect to a different worker).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from durable.harness import (
    CANARY,
    ROOT,
    follow,
    free_port,
    fresh_pg_database,
    keys,
    one_run_id,
    pg_dump,
    pg_rows,
    start_run_in_background,
    started,
    turns,
    wait_for,
    worker,
)
from ponder.memory import scan_files_for, sqlite_artifacts
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

# re-exported: tests/server/test_background_runs.py imports these from here
__all__ = ["CANARY", "fresh_pg_database", "pg_dump", "pg_rows", "started", "turns"]
__all__ += ["wait_for", "worker"]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("point", ["tool_call", "model_call", "between_steps"])
def test_kill_9_then_a_second_worker_finishes_the_run(point: str, tmp_path: Path) -> None:
    """``between_steps``: the worker dies right after the tools step's checkpoint."""
    db = tmp_path / "memory.db"
    memory_url = f"sqlite:///{db}"
    counter = tmp_path / "count"
    calls = [ToolCallSpec("fast", {"note": "a"}), ToolCallSpec("slow", {"note": "b"})]
    script = [Turn(reasoning=f"{CANARY} two notes", content="Recording.", tool_calls=calls)]
    if point == "model_call":
        # the second model call hangs; the worker dies while waiting for it
        script.append(Turn(reasoning=f"{CANARY} hang", content="never", first_byte_delay_s=20))
    script.append(Turn(reasoning=f"{CANARY} finish", content="Both notes are recorded."))
    env = {"PONDER_TEST_SLOW_S": "30" if point == "tool_call" else "0.1"}
    if point == "between_steps":
        env["PONDER_TEST_DIE_AFTER_TOOLS"] = "1"  # it kills itself (SIGKILL)
    with FakeModelServer(script, shape="deepseek") as model:
        with worker(memory_url, model.base_url, counter, **env) as (first, process):
            client, _out = start_run_in_background(first)
            if point == "tool_call":
                wait_for(lambda: sorted(started(counter)) == ["fast", "slow"], "both tools")
                time.sleep(0.5)  # fast's result is checkpointed; slow is still running
            elif point == "model_call":
                wait_for(lambda: len(model.requests) == 2, "the second model call")
            if point != "between_steps":
                process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=30) == -signal.SIGKILL
            client.wait(timeout=30)
            if point == "between_steps":  # after the tools step, before the next model call
                assert len(model.requests) == 1 and sorted(started(counter)) == ["fast", "slow"]
        time.sleep(1.5)  # the dead worker's lease (1 s) runs out
        run_id = one_run_id(db)
        with worker(memory_url, model.base_url, counter) as (second, _process):
            frames = follow(second, run_id)
    final = frames[-1]
    assert final["event"] == "final", frames
    assert final["result"]["answer"] == "Both notes are recorded."  # type: ignore[index]
    assert frames[0]["event"] == "reasoning_gone"
    if point == "tool_call":
        # fast finished before the kill and is not run again; slow was cut and runs again
        # (at-least-once), with the same idempotency key
        assert sorted(started(counter)) == ["fast", "slow", "slow"]
        [fast_key], (slow_key, again) = keys(counter, "fast"), keys(counter, "slow")
        assert slow_key == again == f"{run_id}:1:{slow_key.rsplit(':', 1)[1]}"
        assert fast_key.startswith(f"{run_id}:1:") and fast_key != slow_key
    else:
        assert sorted(started(counter)) == ["fast", "slow"]
    assert len(model.requests) == (3 if point == "model_call" else 2)
    assert turns(db) == [("record it", "Both notes are recorded.")]
    # V4 would answer 400 to a tool-call message without reasoning: the resumed request has none
    resumed = model.requests[-1].body
    assert resumed is not None and all(not m.get("tool_calls") for m in resumed["messages"])
    assert CANARY not in json.dumps(resumed)
    assert scan_files_for(CANARY, sqlite_artifacts(db)) == []


@pytest.mark.postgres
def test_two_workers_on_postgres_race_then_recover(tmp_path: Path) -> None:
    """Same thread on two workers at once: one runs, one 409. Then a kill -9 mid-tool."""
    counter = tmp_path / "count"

    def script(body: dict[str, object]) -> Turn:
        text = json.dumps(body)
        if "race me" in text:
            return Turn(content="raced", first_byte_delay_s=1.5)
        if "recorded" in text:
            return Turn(reasoning=f"{CANARY} finish", content="Both notes are recorded.")
        calls = [ToolCallSpec("fast", {"note": "a"}), ToolCallSpec("slow", {"note": "b"})]
        return Turn(reasoning=f"{CANARY} two", content="Recording.", tool_calls=calls)

    with (
        fresh_pg_database() as url,
        FakeModelServer(script, shape="deepseek") as model,
        worker(url, model.base_url, counter, PONDER_TEST_SLOW_S="30") as (first, process),
        worker(url, model.base_url, counter) as (second, _second),
    ):
        import concurrent.futures

        def post(base: str) -> int:
            body = {"question": "race me", "thread_id": "race"}
            return httpx.post(f"{base}/agents/calc/runs", json=body, timeout=30).status_code

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            statuses = sorted(pool.map(post, [first, second]))
        assert statuses == [200, 409]
        assert sum("race me" in json.dumps(r.body) for r in model.requests) == 1

        client, _out = start_run_in_background(first)
        wait_for(lambda: sorted(started(counter)) == ["fast", "slow"], "both tools")
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
        process.wait()
        client.wait(timeout=30)
        [(run_id,)] = pg_rows(url, "SELECT run_id FROM runs WHERE thread_id = 'crash-thread'")
        frames = follow(second, str(run_id))  # the live worker recovers it within a lease
        assert frames[-1]["result"]["answer"] == "Both notes are recorded."  # type: ignore[index]
        assert sorted(started(counter)) == ["fast", "slow", "slow"]
        assert pg_rows(url, "SELECT answer FROM turns WHERE thread_id = 'crash-thread'") == [
            ("Both notes are recorded.",)
        ]
        dump = pg_dump(url)
    assert "Both notes are recorded." in dump and "fast recorded a" in dump
    assert CANARY not in dump


@pytest.mark.postgres
def test_ponder_serve_with_workers_on_postgres(tmp_path: Path) -> None:
    """``ponder serve --workers 2``: runs answer, and one thread still takes one run at a time."""

    def script(body: dict[str, object]) -> Turn:
        return Turn(reasoning=f"{CANARY} w", content="served", first_byte_delay_s=2.0)

    port = free_port()
    with fresh_pg_database() as url, FakeModelServer(script, shape="vllm") as model:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PONDER_")},
            "PYTHONPATH": str(ROOT),
            "PONDER_BASE_URL": model.base_url,
            "PONDER_MODEL": "r1",
            "HOME": str(tmp_path),
        }
        command = [sys.executable, "-m", "ponder", "serve", "--port", str(port)]
        command += ["--workers", "2", "--memory", url, "--agent", "react"]
        server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _healthy(base), "ponder serve", timeout_s=90)
            import concurrent.futures

            def post(thread: str) -> int:
                body = {"question": "hello", "thread_id": thread}
                return httpx.post(f"{base}/agents/react/runs", json=body, timeout=60).status_code

            with concurrent.futures.ThreadPoolExecutor(5) as pool:  # all five at once
                spread = list(pool.map(post, ["a", "b", "c", "same", "same"]))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        assert spread[:3] == [200, 200, 200]
        assert sorted(spread[3:]) == [200, 409]
        assert len(pg_rows(url, "SELECT 1 FROM turns")) == 4
        assert CANARY not in pg_dump(url)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
