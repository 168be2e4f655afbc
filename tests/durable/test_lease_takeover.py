"""A worker stalled past its lease (SIGSTOP) is fenced out after another worker took its run.

Worker A (a real process running one run through the Python API) is stopped
inside a tool call. Its lease (1 s) runs out; worker B claims the abandoned
run, re-runs the cut call and finishes the run. Then A is continued
(SIGCONT): its tool call returns and its next checkpoint write is refused.
A writes nothing more for the run (the run's checkpoint rows are unchanged,
B's finished row is intact, the turn is stored once) and exits with a clear
error, not a traceback.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from durable.harness import (
    CANARY,
    fresh_pg_database,
    keys,
    one_shot,
    pg_checkpoint_digest,
    pg_dump,
    pg_rows,
    reaped,
    sqlite_checkpoint_digest,
    sqlite_rows,
    started,
    wait_for,
)
from ponder.memory import scan_files_for, sqlite_artifacts
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

pytestmark = pytest.mark.slow

ANSWER = "The note is recorded."
_OTHER_ACTIVE_SESSIONS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND state <> 'idle'"
)


def script(body: dict[str, object]) -> Turn:
    if "slow recorded" in json.dumps(body):
        return Turn(reasoning=f"{CANARY} done", content=ANSWER)
    call = ToolCallSpec("slow", {"note": "b"})
    return Turn(reasoning=f"{CANARY} record", content="Recording.", tool_calls=[call])


def stall_take_over_wake(
    memory_url: str,
    counter: Path,
    rows: Callable[[str], list[tuple[object, ...]]],
    digest: Callable[[str], tuple[int, int, str]],
    between_writes: Callable[[], bool] = lambda: True,
) -> str:
    """The scenario; returns the run id after checking what A and B left behind.

    A is stopped inside its tool call once ``between_writes()`` (no write of
    A's under way): a worker stopped in the middle of a pipelined PostgreSQL
    write keeps its session active, and its locks, until the session dies.
    """
    with FakeModelServer(script, shape="deepseek") as model:
        a = one_shot("run", memory_url, model.base_url, counter, "t", PONDER_TEST_SLOW_S="4")
        with reaped(a):
            wait_for(lambda: started(counter) == ["slow"], "A's tool call", timeout_s=60)
            wait_for(between_writes, "A's last write to end", timeout_s=30)
            a.send_signal(signal.SIGSTOP)
            [(run, a_owner)] = rows("SELECT run_id, owner FROM runs")
            run_id = str(run)
            time.sleep(2.0)  # A's 1 s lease runs out while it is stopped
            b = one_shot("resume", memory_url, model.base_url, counter, run_id)
            with reaped(b):
                b_out, b_err = b.communicate(timeout=60)
            assert b.returncode == 0, b_err
            assert b_out.strip() == ANSWER
            [(status, b_owner)] = rows(f"SELECT status, owner FROM runs WHERE run_id = '{run_id}'")
            assert status == "done" and b_owner != a_owner and f":{b.pid}:" in str(b_owner)
            after_b = digest(run_id)
            a.send_signal(signal.SIGCONT)  # A's tool call returns at once (its 4 s are over)
            a_out, a_err = a.communicate(timeout=60)
        assert a.returncode == 3, a_err
        assert "lost the run's lease" in a_err and run_id in a_err
        assert "Traceback" not in a_err and a_out == ""
        assert digest(run_id) == after_b  # A wrote no checkpoint, no pending write
        assert rows(f"SELECT status, owner FROM runs WHERE run_id = '{run_id}'") == [
            ("done", b_owner)
        ]
        assert rows("SELECT question, answer FROM turns") == [("record it", ANSWER)]
        assert len(model.requests) == 2  # A's first call and B's last: A asked nothing more
    # A's call was cut (as far as the database knows) and ran again in B: the same key
    assert started(counter) == ["slow", "slow"]
    first, again = keys(counter, "slow")
    assert first == again and first.startswith(f"{run_id}:1:")
    return run_id


def test_a_stalled_worker_writes_nothing_after_a_takeover_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    stall_take_over_wake(
        f"sqlite:///{db}",
        tmp_path / "count",
        lambda sql: sqlite_rows(db, sql),
        lambda run_id: sqlite_checkpoint_digest(db, run_id),
    )
    assert scan_files_for(CANARY, sqlite_artifacts(db)) == []


@pytest.mark.postgres
def test_a_stalled_worker_writes_nothing_after_a_takeover_postgres(tmp_path: Path) -> None:
    with fresh_pg_database() as url:
        stall_take_over_wake(
            url,
            tmp_path / "count",
            lambda sql: pg_rows(url, sql),
            lambda run_id: pg_checkpoint_digest(url, run_id),
            lambda: pg_rows(url, _OTHER_ACTIVE_SESSIONS) == [],
        )
        dump = pg_dump(url)
    assert ANSWER in dump and CANARY not in dump
