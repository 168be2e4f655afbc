"""``kill -9`` in the middle of store writes leaves SQLite intact and every turn whole.

A child process appends turns as fast as it can and prints each index once
``add_turn`` returned; the test kills it at a random moment, three times
over one file. Afterwards the file passes ``PRAGMA integrity_check``, each
thread's turns are contiguous, and every turn the child saw committed is there.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from ponder.memory import MemoryStore

WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from ponder.memory import MemoryStore

async def main(url, thread):
    store = MemoryStore.from_url(url)
    now = datetime.now(UTC)
    i = 0
    while True:
        record = await store.add_turn(
            thread, question=f"q{i}", answer="a" * (i % 7 * 40_000), started_at=now, finished_at=now
        )
        print(record.index, flush=True)
        i += 1

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.slow
async def test_kill_9_during_writes_keeps_integrity(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    url = f"sqlite:///{db}"
    rnd = random.Random(5)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    confirmed: dict[str, int] = {}
    for kill in range(3):
        thread = f"t{kill % 2}"
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, url, thread, stdout=asyncio.subprocess.PIPE, env=env
        )
        assert child.stdout is not None
        wanted = rnd.randrange(2, 12)
        for _ in range(wanted):
            line = await asyncio.wait_for(child.stdout.readline(), 60)
            confirmed[thread] = int(line)
        child.send_signal(signal.SIGKILL)
        await child.wait()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    store = MemoryStore.from_url(url)
    try:
        for thread, last_seen in confirmed.items():
            indices = [t.index for t in await store.turns(thread, last=None)]
            assert indices == list(range(len(indices)))
            assert len(indices) > last_seen  # nothing the child saw committed was lost
    finally:
        await store.aclose()
