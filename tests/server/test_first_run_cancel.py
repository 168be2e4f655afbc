"""A client that leaves the very first run of a fresh server process cancels it, tool and model.

Starlette's disconnect handling (an anyio cancel scope) cancels the response
task again and again until it returns. Each repeat used to reach the agent's
producer while LangGraph was still cancelling its node tasks, which cut that
clean-up short: the tool slept on (30 s, until SQLite's busy timeout broke
it loose) and the model stream ran to its end, with the run's end never
logged. Real server subprocesses, real HTTP on loopback, the fake model.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ponder.memory import MemoryStore
from ponder.memory.runs import RunLedger
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

HERE = Path(__file__).resolve().parent
BOUND_S = 20.0  # the tool would sleep 120 s, the model stream last 120 s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float) -> float:
    """Seconds until ``condition`` held; fails after ``timeout_s``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout_s, f"{what} within {timeout_s:g} s"
        time.sleep(0.05)
    return time.monotonic() - start


@contextmanager
def _server(command: Callable[[int], list[str]], env: dict[str, str], log: Path) -> Iterator[str]:
    """A server subprocess (``command(port)``, output to ``log``); its URL once it is healthy."""
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(command(port), env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait_until(healthy, "the server answers /health", 90)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _stream_until(base: str, path: str, body: dict[str, str], event: str) -> str:
    """Open the run's SSE stream, read up to ``event``, then hang up; the run id."""
    run_id = ""
    with (
        httpx.Client(base_url=base, timeout=60) as client,
        client.stream("POST", path, json=body) as reply,
    ):
        assert reply.status_code == 200
        lines = reply.iter_lines()
        for line in lines:
            if line.startswith("data: ") and not run_id and '"run_id"' in line:
                run_id = line.split('"run_id": "', 1)[1].split('"', 1)[0]
            if line == f"event: {event}":
                break
        else:
            pytest.fail(f"the stream ended before a {event} event")
    return run_id


async def _status(memory_url: str, run_id: str, thread_id: str) -> tuple[str | None, int]:
    store = MemoryStore.from_url(memory_url)
    try:
        run = await RunLedger.for_store(store).get(run_id)
        return (run.status if run else None), len(await store.turns(thread_id))
    finally:
        await store.aclose()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "DEEPSEEK_"))}
    env.update(HOME=str(tmp_path / "home"), COLUMNS="400", **extra)  # COLUMNS: unwrapped logs
    return env


@pytest.mark.slow
async def test_first_run_of_a_fresh_server_cancels_its_tool_on_disconnect(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    memory_url = f"sqlite:///{tmp_path / 'memory.db'}"
    nap = Turn(reasoning="a nap first", tool_calls=[ToolCallSpec("nap", {"seconds": 120})])
    log = tmp_path / "server.log"
    with FakeModelServer([nap, Turn(content="rested")], shape="deepseek") as model:
        script = str(HERE / "slow_tool_server.py")

        def command(port: int) -> list[str]:
            return [sys.executable, script, str(port), model.base_url, memory_url, str(marks)]

        with _server(command, _env(tmp_path), log) as base:
            ask = {"question": "nap, then answer", "thread_id": "napper"}
            run_id = _stream_until(base, "/agents/a/runs/stream", ask, "tool_call")
            _wait_until((marks / "started").exists, "the tool starts", BOUND_S)
            # the stream is closed: the client is gone, mid-tool
            _wait_until((marks / "cancelled").exists, "the tool is cancelled", BOUND_S)
            _wait_until(lambda: "ended: cancelled" in log.read_text(), "the run ends", BOUND_S)
            assert await _status(memory_url, run_id, "napper") == ("cancelled", 0)
    assert not (marks / "finished").exists()
    assert len(model.requests) == 1  # the run did not go on after the tool


@pytest.mark.slow
async def test_first_run_of_ponder_serve_stops_the_model_stream_on_disconnect(
    tmp_path: Path,
) -> None:
    memory_url = f"sqlite:///{tmp_path / 'memory.db'}"
    # 120 s of answer at 0.1 s a character, unless the run is cancelled
    slow = Turn(reasoning="thinking", content="never finished " * 80, delay_s=0.1, chunk_chars=1)
    log = tmp_path / "server.log"
    with FakeModelServer([slow], shape="vllm") as model:
        env = _env(
            tmp_path,
            PONDER_BASE_URL=model.base_url,
            PONDER_MODEL="r1",
            PONDER_MEMORY_URL=memory_url,
        )

        def command(port: int) -> list[str]:
            return [sys.executable, "-m", "ponder", "serve", "--port", str(port), "--no-page"]

        with _server(command, env, log) as base:
            ask = {"question": "q", "thread_id": "leaver"}
            run_id = _stream_until(base, "/agents/react/runs/stream", ask, "answer_delta")
            # logged once the run has unwound: its model stream closed, nothing saved
            _wait_until(lambda: "ended: cancelled" in log.read_text(), "the run ends", BOUND_S)
            assert await _status(memory_url, run_id, "leaver") == ("cancelled", 0)
