"""A real server worker for the crash tests: ``python worker.py PORT MEMORY_URL MODEL_URL COUNTER``.

It serves one agent, ``calc``, on the given loopback port: the fake model at
MODEL_URL (DeepSeek V4 wire) and two tools that append their name to COUNTER
when they start (``slow`` then sleeps, so a test can kill the worker inside it).
Leases last PONDER_TEST_LEASE_S seconds (default 1), so a second worker can
recover the run of a killed one quickly. PONDER_TEST_QUEUE=1 turns on
background runs (a DBOS queue polled every 0.1 s); PONDER_TEST_NO_RECOVERY=1
turns off the server's lease recovery of abandoned runs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import uvicorn

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore
from ponder.server import create_app
from ponder.tools import Tool


def tools(counter: Path) -> list[Tool]:
    def fast(note: str) -> str:
        """Record a note at once.

        Args:
            note: what to record
        """
        with counter.open("a") as f:
            f.write("fast\n")
        return f"fast recorded {note}"

    async def slow(note: str) -> str:
        """Record a note, slowly.

        Args:
            note: what to record
        """
        with counter.open("a") as f:
            f.write("slow\n")
        await asyncio.sleep(float(os.environ.get("PONDER_TEST_SLOW_S", "0.2")))
        return f"slow recorded {note}"

    return [Tool.from_function(fast), Tool.from_function(slow)]


def main() -> None:
    port, memory_url, model_url, counter = sys.argv[1:5]
    memory = MemoryStore.from_url(memory_url)
    backend = OpenAICompatibleBackend(
        base_url=model_url, model="deepseek-v4-pro", api_key="sk-test", profile="deepseek"
    )

    def calc() -> Agent:
        return Agent(backend, tools(Path(counter)), memory=memory)

    queue = None
    if os.environ.get("PONDER_TEST_QUEUE"):
        from ponder.agents.queue import QueueSettings

        queue = QueueSettings(polling_interval_s=0.1)
    app = create_app(
        {"calc": calc},
        memory=memory,
        run_lease_s=float(os.environ.get("PONDER_TEST_LEASE_S", "1")),
        background=queue,
        recover_runs=not os.environ.get("PONDER_TEST_NO_RECOVERY"),
    )
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
