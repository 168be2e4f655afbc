"""Memory store: appending a turn and loading a thread of 10,000 turns, SQLite and PostgreSQL.

Fills one fresh thread turn by turn through ``MemoryStore.add_turn`` (each a
transaction), timing every append, then times loading the whole thread
(``turns``) and the history an Agent loads before each run
(``history_messages(last=20)``). PostgreSQL runs when a URL is given
(``--postgres-url`` or ``PONDER_TEST_POSTGRES_URL``); its thread is deleted
afterwards.

    .venv-bench/bin/python benchmarks/memory_store.py [--turns 10000] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from _harness import median_ms, p99_ms, table

from ponder.memory import MemoryStore, ToolCallSummary

QUESTION = "What is the running total after adding one to each of the previous results? " * 2
ANSWER = "The running total is 42: each step added one, as the tool confirmed. " * 6
CALL = ToolCallSummary(name="add", arguments='{"a": 41, "b": 1}', output_preview="42")


async def _measure(url: str, turns: int, loads: int) -> list[tuple[object, ...]]:
    store = MemoryStore.from_url(url)
    thread = f"bench-{uuid.uuid4().hex}"
    appends: list[float] = []
    try:
        for _ in range(turns):
            now = datetime.now(UTC)
            started = time.perf_counter()
            await store.add_turn(
                thread,
                question=QUESTION,
                answer=ANSWER,
                tool_calls=[CALL],
                model="fake-r1",
                usage={"prompt_tokens": 120, "completion_tokens": 80},
                started_at=now,
                finished_at=now,
            )
            appends.append(time.perf_counter() - started)
        full = await _timed(lambda: store.turns(thread), max(3, loads // 20))
        recent = await _timed(lambda: store.history_messages(thread, last=20), loads)
        assert len(await store.turns(thread)) == turns
    finally:
        await store.delete_thread(thread)
        await store.aclose()
    tail = appends[-min(500, turns) :]
    return [
        (f"add_turn, all {turns} appends", median_ms(appends), p99_ms(appends)),
        (f"add_turn, last {len(tail)} appends", median_ms(tail), p99_ms(tail)),
        (f"turns(): load all {turns} turns ({len(full)} loads)", median_ms(full), p99_ms(full)),
        (f"history_messages(last=20) ({len(recent)} loads)", median_ms(recent), p99_ms(recent)),
    ]


async def _timed(load: Callable[[], Awaitable[object]], reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        await load()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000, help="turns in the thread")
    parser.add_argument("--loads", type=int, default=100, help="timed history loads")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PONDER_TEST_POSTGRES_URL"),
        help="PostgreSQL URL (default: $PONDER_TEST_POSTGRES_URL; none skips PostgreSQL)",
    )
    args = parser.parse_args()
    rows: list[tuple[object, ...]] = []
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite:///{Path(folder) / 'memory.db'}"
        rows += [
            ("SQLite (WAL, file)", *r)
            for r in asyncio.run(_measure(sqlite_url, args.turns, args.loads))
        ]
    notes = []
    if args.postgres_url:
        try:
            measured = asyncio.run(_measure(args.postgres_url, args.turns, args.loads))
            rows += [("PostgreSQL (loopback)", *r) for r in measured]
        except Exception as exc:
            notes.append(f"- PostgreSQL could not be measured: `{type(exc).__name__}: {exc}`"[:400])
    else:
        notes.append("- PostgreSQL skipped: no URL (--postgres-url or PONDER_TEST_POSTGRES_URL).")
    print(
        "\n".join(
            [
                f"## 4. Memory store ({args.turns:,}-turn thread)",
                "",
                "One thread filled by sequential `add_turn` calls (one transaction each, "
                "~160-character question, ~420-character answer, one tool-call summary); "
                "then whole-thread and last-20 loads.",
                "",
                table(["store", "operation", "median ms", "p99 ms"], rows),
                *(["", *notes] if notes else []),
            ]
        )
    )


if __name__ == "__main__":
    main()
