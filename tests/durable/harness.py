"""Helpers of the crash tests: worker subprocesses, the counter file, database probes.

A worker is tests/durable/worker.py: ``serve`` (a uvicorn server, the
default) or a one-shot ``run``/``resume`` of one agent run through the
Python API. Its tools append ``NAME IDEMPOTENCY_KEY`` to a counter file when
they start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")
CANARY = "CANARY-crash-resume-0b7e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_env(**env: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PONDER_TEST_LEASE_S": "1", **env}


@contextlib.contextmanager
def worker(
    memory_url: str, model_url: str, counter: Path, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A serving worker on a free port, up and healthy; stopped (SIGINT) afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(port), memory_url, model_url, str(counter)],
        env=worker_env(**env),
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


def one_shot(
    mode: str, memory_url: str, model_url: str, counter: Path, target: str, **env: str
) -> subprocess.Popen[str]:
    """A worker that runs (``run THREAD``) or resumes (``resume RUN_ID``) one run, then exits.

    It prints the answer on stdout; on a lost lease it prints the error on
    stderr and exits with status 3.
    """
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, memory_url, model_url, str(counter), target],
        env=worker_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def reaped(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """Kill ``process`` on the way out unless it already ended (a failed test leaves none)."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.communicate()


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _counted(counter: Path) -> list[list[str]]:
    return [line.split() for line in counter.read_text().splitlines()] if counter.exists() else []


def started(counter: Path) -> list[str]:
    """The tools that started, in order (one per execution)."""
    return [fields[0] for fields in _counted(counter)]


def keys(counter: Path, tool: str) -> list[str]:
    """The idempotency keys ``tool`` saw, one per execution."""
    return [fields[1] for fields in _counted(counter) if fields[0] == tool]


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


# ------------------------------------------------------------------ SQLite


def sqlite_rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


def one_run_id(db: Path) -> str:
    [(run_id,)] = sqlite_rows(db, "SELECT run_id FROM runs")
    return str(run_id)


def turns(db: Path) -> list[tuple[str, str]]:
    return [(str(q), str(a)) for q, a in sqlite_rows(db, "SELECT question, answer FROM turns")]


def sqlite_checkpoint_digest(db: Path, run_id: str) -> tuple[int, int, str]:
    """(checkpoints, writes, digest of both) of one run: any write changes it."""
    digest = hashlib.sha256()
    counts = []
    for table in ("checkpoints", "writes"):
        rows = sqlite_rows(db, f"SELECT * FROM {table} WHERE thread_id = '{run_id}' ORDER BY 1,2,3")
        counts.append(len(rows))
        digest.update(repr(sorted(map(repr, rows))).encode())
    return counts[0], counts[1], digest.hexdigest()


# -------------------------------------------------------------- PostgreSQL


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


def pg_checkpoint_digest(url: str, run_id: str) -> tuple[int, int, str]:
    """(checkpoints, writes, digest of checkpoints, writes and blobs) of one run."""
    counts, digest = [], hashlib.sha256()
    for table in ("checkpoints", "checkpoint_writes", "checkpoint_blobs"):
        rows = pg_rows(url, f"SELECT t::text FROM {table} t WHERE thread_id = '{run_id}'")
        counts.append(len(rows))
        digest.update(repr(sorted(str(r[0]) for r in rows)).encode())
    return counts[0], counts[1], digest.hexdigest()
