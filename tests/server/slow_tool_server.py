"""A fresh server process for the cancellation tests: one agent whose tool sleeps and tells.

Run as ``python slow_tool_server.py PORT MODEL_URL MEMORY_URL MARK_DIR``. The
tool ``nap`` writes ``MARK_DIR/started`` when called, then sleeps; it writes
``cancelled`` if the sleep is cancelled and ``finished`` if it ends.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore
from ponder.server import create_app, serve


def main(port: str, model_url: str, memory_url: str, mark_dir: str) -> None:
    marks = Path(mark_dir)

    async def nap(seconds: int) -> str:
        """Sleep for ``seconds`` seconds."""
        (marks / "started").write_text(str(time.time()))
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            (marks / "cancelled").write_text(str(time.time()))
            raise
        (marks / "finished").write_text(str(time.time()))
        return "slept"

    backend = OpenAICompatibleBackend(
        base_url=model_url, model="deepseek-v4-pro", api_key="sk-test", profile="deepseek"
    )
    memory = MemoryStore.from_url(memory_url)
    # A factory, as `ponder serve` has: each run gets a new agent (and checkpointer).
    app = create_app({"a": lambda: Agent(backend, [nap], memory=memory)}, memory=memory)
    serve("127.0.0.1", int(port), app)


if __name__ == "__main__":
    main(*sys.argv[1:])
