"""kill -9 of a real server worker, then a second worker finishes the run.

Each test starts a worker subprocess (tests/durable/worker.py: uvicorn, a
real Agent, the memory database), kills it with SIGKILL at a chosen point,
starts a second worker on the same database, which recovers the abandoned
run at start-up, and follows the run from the second worker with
``GET /runs/{run_id}/events`` (an SSE reconnect to a different worker).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ponder.memory import scan_files_for, sqlite_artifacts
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")
CANARY = "CANARY-crash-resume-0b7e"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def worker(
    memory_url: str, model_url: str, counter: Path, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PONDER_TEST_LEASE_S": "1", **env}
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(port), memory_url, model_url, str(counter)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the worker did not come up"
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def started(counter: Path) -> list[str]:
    return counter.read_text().splitlines() if counter.exists() else []


def start_run_in_background(url: str) -> tuple[subprocess.Popen[bytes], Path]:
    """A curl-like client subprocess, so killing the worker does not disturb the test."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"client-{os.getpid()}-{time.time_ns()}.txt"
    code = (
        "import httpx,sys\n"
        "with httpx.stream('POST', sys.argv[1] + '/agents/calc/runs/stream', "
        "json={'question': 'record it', 'thread_id': 'crash-thread'}, timeout=60) as r:\n"
        "    open(sys.argv[2], 'w').write(''.join(r.iter_text()))\n"
    )
    client = subprocess.Popen(
        [sys.executable, "-c", code, url, str(out)],
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return client, out


def follow(url: str, run_id: str) -> list[dict[str, object]]:
    """The run's events from ``url``, reconnecting from the start, until it ends."""
    with httpx.stream(
        "GET", f"{url}/runs/{run_id}/events", headers={"Last-Event-ID": "0"}, timeout=60
    ) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    frames = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            frames.append({"event": fields.get("event"), **json.loads(fields["data"])})
    return frames


def one_run_id(db: Path) -> str:
    import sqlite3

    with sqlite3.connect(db) as conn:
        [(run_id,)] = conn.execute("SELECT run_id FROM runs").fetchall()
    return str(run_id)


def turns(db: Path) -> list[tuple[str, str]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return [(q, a) for q, a in conn.execute("SELECT question, answer FROM turns")]


@pytest.mark.parametrize("point", ["tool_call", "model_call"])
def test_kill_9_then_a_second_worker_finishes_the_run(point: str, tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    memory_url = f"sqlite:///{db}"
    counter = tmp_path / "count"
    calls = [ToolCallSpec("fast", {"note": "a"}), ToolCallSpec("slow", {"note": "b"})]
    script = [Turn(reasoning=f"{CANARY} two notes", content="Recording.", tool_calls=calls)]
    if point == "model_call":
        # the second model call hangs; the worker dies while waiting for it
        script.append(Turn(reasoning=f"{CANARY} hang", content="never", first_byte_delay_s=20))
    script.append(Turn(reasoning=f"{CANARY} finish", content="Both notes are recorded."))
    slow_s = "30" if point == "tool_call" else "0.1"
    with FakeModelServer(script, shape="deepseek") as model:
        with worker(memory_url, model.base_url, counter, PONDER_TEST_SLOW_S=slow_s) as (
            first,
            process,
        ):
            client, _out = start_run_in_background(first)
            if point == "tool_call":
                wait_for(lambda: sorted(started(counter)) == ["fast", "slow"], "both tools")
                time.sleep(0.5)  # fast's result is checkpointed; slow is still running
            else:
                wait_for(lambda: len(model.requests) == 2, "the second model call")
            process.send_signal(signal.SIGKILL)
            process.wait()
            client.wait(timeout=30)
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
        assert sorted(started(counter)) == ["fast", "slow", "slow"]
    else:
        assert sorted(started(counter)) == ["fast", "slow"]
    assert turns(db) == [("record it", "Both notes are recorded.")]
    # V4 would answer 400 to a tool-call message without reasoning: the resumed request has none
    resumed = model.requests[-1].body
    assert resumed is not None and all(not m.get("tool_calls") for m in resumed["messages"])
    assert CANARY not in json.dumps(resumed)
    assert scan_files_for(CANARY, sqlite_artifacts(db)) == []


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new PostgreSQL database of its own (psycopg URL), dropped afterwards."""
    import psycopg

    base = os.environ.get("PONDER_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI is set but PONDER_TEST_POSTGRES_URL is not")
        pytest.skip(reason="PONDER_TEST_POSTGRES_URL is not set; no PostgreSQL to test against")
    name = f"ponder_durable_{os.getpid()}_{time.time_ns() % 10**9}"
    admin = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def pg_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return list(conn.execute(sql).fetchall())


def pg_dump(url: str) -> str:
    tables = pg_rows(
        url,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    rows = []
    for schema, table in tables:
        rows += [str(r[0]) for r in pg_rows(url, f'SELECT t::text FROM "{schema}"."{table}" t')]
    return "\n".join(rows)


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
