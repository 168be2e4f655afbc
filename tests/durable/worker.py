"""A real worker for the crash tests.

``python worker.py PORT MEMORY_URL MODEL_URL COUNTER`` serves one agent,
``calc``, on the given loopback port. ``python worker.py run|resume
MEMORY_URL MODEL_URL COUNTER THREAD|RUN_ID`` runs (or resumes) one run of
that agent through the Python API, prints its answer and exits: status 3,
with the error on stderr, when the run's lease was lost to another worker.

The agent uses the fake model at MODEL_URL (DeepSeek V4 wire) and two tools
that append ``NAME IDEMPOTENCY_KEY`` to COUNTER when they start (``slow``
then sleeps PONDER_TEST_SLOW_S, so a test can kill or stop the worker inside
it). Leases last PONDER_TEST_LEASE_S seconds (default 1), so a second worker
can recover the run of a dead one quickly. PONDER_TEST_QUEUE=1 turns on
background runs (a DBOS queue polled every 0.1 s); PONDER_TEST_NO_RECOVERY=1
turns off the server's lease recovery of abandoned runs;
PONDER_TEST_DIE_AFTER_TOOLS=1 makes the worker kill itself (SIGKILL) right
after the checkpoint of its first tools step, before the next model call.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend, ToolMessage
from ponder.memory import LeaseLost, MemoryStore, RunLedger
from ponder.memory.checkpoint import RedactingSaverMixin
from ponder.tools import Tool, current_tool_call


def tools(counter: Path) -> list[Tool]:
    def count(name: str) -> None:
        call = current_tool_call()
        with counter.open("a") as f:
            f.write(f"{name} {call.idempotency_key if call else '-'}\n")

    def fast(note: str) -> str:
        """Record a note at once.

        Args:
            note: what to record
        """
        count("fast")
        return f"fast recorded {note}"

    async def slow(note: str) -> str:
        """Record a note, slowly.

        Args:
            note: what to record
        """
        count("slow")
        await asyncio.sleep(float(os.environ.get("PONDER_TEST_SLOW_S", "0.2")))
        return f"slow recorded {note}"

    return [Tool.from_function(fast), Tool.from_function(slow)]


def die_after_the_tools_checkpoint() -> None:
    """SIGKILL this process once a checkpoint ending in tool results is stored."""
    aput = RedactingSaverMixin.aput

    async def aput_then_die(self: Any, config: Any, checkpoint: Any, *args: Any) -> Any:
        stored = await aput(self, config, checkpoint, *args)
        messages = checkpoint["channel_values"].get("messages") or []
        if messages and isinstance(messages[-1], ToolMessage):
            os.kill(os.getpid(), signal.SIGKILL)
        return stored

    RedactingSaverMixin.aput = aput_then_die  # type: ignore[method-assign,assignment]


def agent_factory(memory: MemoryStore, model_url: str, counter: str) -> Agent:
    backend = OpenAICompatibleBackend(
        base_url=model_url, model="deepseek-v4-pro", api_key="sk-test", profile="deepseek"
    )
    return Agent(backend, tools(Path(counter)), memory=memory)


def serve(port: str, memory_url: str, model_url: str, counter: str) -> None:
    import uvicorn

    from ponder.server import create_app

    memory = MemoryStore.from_url(memory_url)
    queue = None
    if os.environ.get("PONDER_TEST_QUEUE"):
        from ponder.agents.queue import QueueSettings

        queue = QueueSettings(polling_interval_s=0.1)
    app = create_app(
        {"calc": lambda: agent_factory(memory, model_url, counter)},
        memory=memory,
        run_lease_s=float(os.environ.get("PONDER_TEST_LEASE_S", "1")),
        background=queue,
        recover_runs=not os.environ.get("PONDER_TEST_NO_RECOVERY"),
    )
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")


async def run_once(mode: str, memory_url: str, model_url: str, counter: str, target: str) -> int:
    memory = MemoryStore.from_url(memory_url)
    RunLedger.for_store(memory, lease_s=float(os.environ.get("PONDER_TEST_LEASE_S", "1")))
    agent = agent_factory(memory, model_url, counter)
    try:
        if mode == "run":
            result = await agent.arun("record it", thread_id=target)
        else:
            result = await agent.aresume(target)
    except LeaseLost as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    finally:
        await agent.aclose()
        await agent.backend.aclose()
        await memory.aclose()
    print(result.answer_text)
    return 0


def main() -> None:
    if os.environ.get("PONDER_TEST_DIE_AFTER_TOOLS"):
        die_after_the_tools_checkpoint()
    if sys.argv[1] in ("run", "resume"):
        sys.exit(asyncio.run(run_once(*sys.argv[1:6])))
    serve(*sys.argv[1:5])


if __name__ == "__main__":
    main()
