"""The AG-UI and Vercel AI SDK streams, read by their official JavaScript clients under node.

``tests/node_ui`` holds the two client scripts and a package.json pinning
``@ag-ui/client`` and ``ai`` (``npm install --prefix tests/node_ui``). Each
protocol is checked on a multi-step tool-using run, a model error and a run
the client cancels mid-tool; the reasoning canary reaches the clients that
asked and nothing on disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from capabilities import missing, need_executable
from server_harness import add, last_user_text, serving

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore, scan_files_for, sqlite_artifacts
from ponder.server import create_app
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

NODE_DIR = Path(__file__).parents[1] / "node_ui"
TOKEN = "ui-clients-token"
CANARY = f"NODE-CANARY-{uuid.uuid4().hex}"

pytestmark = pytest.mark.slow


@dataclass
class Slow:
    """A tool that says when it started, then waits (the client disconnects meanwhile)."""

    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_forever(self) -> str:
        """Wait (for a minute)."""
        self.started.set()
        await asyncio.sleep(60)
        return "never"


def script(body: dict[str, Any]) -> Turn:
    """'sum': add twice, then answer; 'fail': a model error; 'hang': call the slow tool."""
    question = last_user_text(body)
    tool_results = [m for m in body["messages"] if m["role"] == "tool"]
    if question.startswith("fail"):
        return Turn(status=400, error_message="the fake model refuses")
    if question.startswith("hang"):
        return Turn(reasoning="wait", tool_calls=[ToolCallSpec("wait_forever", {})])
    if len(tool_results) == 0:
        return Turn(reasoning=f"{CANARY} first", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})])
    if len(tool_results) == 1:
        return Turn(reasoning="then add one", tool_calls=[ToolCallSpec("add", {"a": 5, "b": 1})])
    return Turn(reasoning="done", content="The sum is 6.")


@pytest.fixture
def node() -> str:
    path = need_executable("node", "apt-get install nodejs")
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    if int(version.lstrip("v").split(".")[0]) < 20:
        missing(f"node 20 or newer (found {version.strip()})", "install a newer nodejs")
    for package in ("@ag-ui/client", "ai"):
        if not (NODE_DIR / "node_modules" / package / "package.json").is_file():
            missing(f"the npm package {package}", "npm install --prefix tests/node_ui")
    return path


@pytest.fixture
async def server(memory: MemoryStore) -> AsyncIterator[tuple[str, Slow]]:
    slow = Slow()
    with FakeModelServer(script, shape="deepseek") as model:
        async with OpenAICompatibleBackend(
            base_url=model.base_url, model="deepseek-v4-pro", api_key="k", profile="deepseek"
        ) as backend:
            agent = Agent(backend, [add, slow.wait_forever], memory=memory)
            app = create_app({"calc": agent}, memory=memory, api_keys=[TOKEN], allow_reasoning=True)
            async with serving(app) as url:
                yield url, slow


async def run_client(
    node: str, name: str, *args: str, abort_when: asyncio.Event | None = None
) -> dict[str, Any]:
    """Run a client script; with ``abort_when``, tell it to abort once that event is set."""
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / name),
        *args,
        *(["cancel"] if abort_when else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PONDER_TOKEN": TOKEN},
    )
    stdin = b""
    if abort_when is not None:
        await asyncio.wait_for(abort_when.wait(), timeout=30)
        stdin = b"abort\n"
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def assert_cancelled(url: str, slow: Slow, memory: MemoryStore, thread: str) -> None:
    """The disconnect ended the run, saved nothing and freed the thread for the next run."""
    slow.started.clear()
    assert not await memory.thread_exists(thread)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=auth) as http:
        ask = {"question": "sum please", "thread_id": thread}
        reply = await http.post("/agents/calc/runs", json=ask)
        while reply.status_code == 409:  # the claim goes as the cancelled response unwinds
            await asyncio.sleep(0.02)
            reply = await http.post("/agents/calc/runs", json=ask)
    assert reply.status_code == 200 and reply.json()["answer"] == "The sum is 6."


async def test_agui_client_sees_tool_run_error_and_cancel(
    node: str, server: tuple[str, Slow], memory: MemoryStore, memory_db: Path
) -> None:
    url, slow = server
    endpoint = f"{url}/agents/calc/ag-ui"

    done = await run_client(node, "agui_client.mjs", endpoint, "t-agui", "sum please")
    types = [e["type"] for e in done["events"]]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_FINISHED"
    assert done["failed"] is None and done["thrown"] is None
    assert types.count("TOOL_CALL_START") == types.count("TOOL_CALL_RESULT") == 2
    for start in (i for i, t in enumerate(types) if t == "TOOL_CALL_START"):
        assert types[start : start + 4] == [
            "TOOL_CALL_START",
            "TOOL_CALL_ARGS",
            "TOOL_CALL_END",
            "TOOL_CALL_RESULT",
        ]
    assert types.count("REASONING_START") == types.count("REASONING_END") == 3
    reasoning = "".join(
        e["delta"]
        for e in done["events"]
        if e["type"].endswith("_CONTENT") and e["type"].startswith("REASONING")
    )
    assert CANARY in reasoning  # this client asked, and the server allows it
    text = "".join(e["delta"] for e in done["events"] if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == done["result"]["answer"] == "The sum is 6."
    # the client assembled the conversation from the events: two tool results, the answer
    roles = [m["role"] for m in done["messages"]]
    assert roles.count("tool") == 2 and done["messages"][-1]["content"] == "The sum is 6."
    assert [t.answer for t in await memory.turns("t-agui")] == ["The sum is 6."]

    failed = await run_client(node, "agui_client.mjs", endpoint, "t-agui-fail", "fail now")
    types = [e["type"] for e in failed["events"]]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_ERROR"
    assert "RUN_FINISHED" not in types
    assert failed["events"][-1]["code"] == "BadRequestError"
    assert "refuses" in failed["events"][-1]["message"]
    assert not await memory.thread_exists("t-agui-fail")

    cancelled = await run_client(
        node, "agui_client.mjs", endpoint, "t-agui-cancel", "hang on", abort_when=slow.started
    )
    types = [e["type"] for e in cancelled["events"]]
    assert "TOOL_CALL_END" in types and "RUN_FINISHED" not in types
    await assert_cancelled(url, slow, memory, "t-agui-cancel")
    await memory.aclose()
    assert scan_files_for(CANARY, sqlite_artifacts(memory_db)) == []


async def test_vercel_client_sees_tool_run_error_and_cancel(
    node: str, server: tuple[str, Slow], memory: MemoryStore, memory_db: Path
) -> None:
    url, slow = server
    endpoint = f"{url}/agents/calc/ui-message-stream"

    done = await run_client(node, "vercel_client.mjs", endpoint, "t-ai", "sum please")
    chunks = [c["type"] for c in done["chunks"]]
    assert done["thrown"] is None and done["errors"] == []
    assert chunks[0] == "start" and chunks[-1] == "finish"
    assert chunks.count("start-step") == chunks.count("finish-step") == 3
    assert chunks.count("tool-input-available") == chunks.count("tool-output-available") == 2
    assert done["chunks"][-1]["finishReason"] == "stop"
    assert done["chunks"][-1]["messageMetadata"]["thread_id"] == "t-ai"
    parts = done["message"]["parts"]
    tools = [p for p in parts if p["type"] == "dynamic-tool"]
    assert [(t["toolName"], t["state"], t["output"]) for t in tools] == [
        ("add", "output-available", "5"),
        ("add", "output-available", "6"),
    ]
    assert [p["text"] for p in parts if p["type"] == "text"] == ["The sum is 6."]
    assert CANARY in "".join(p["text"] for p in parts if p["type"] == "reasoning")
    assert [t.answer for t in await memory.turns("t-ai")] == ["The sum is 6."]

    failed = await run_client(node, "vercel_client.mjs", endpoint, "t-ai-fail", "fail now")
    chunks = [c["type"] for c in failed["chunks"]]
    assert chunks[0] == "start" and "error" in chunks
    assert failed["errors"] and "refuses" in failed["errors"][0]
    assert failed["chunks"][-1] == {"type": "finish", "finishReason": "error"}
    assert not await memory.thread_exists("t-ai-fail")

    cancelled = await run_client(
        node, "vercel_client.mjs", endpoint, "t-ai-cancel", "hang on", abort_when=slow.started
    )
    chunks = [c["type"] for c in cancelled["chunks"]]
    assert "tool-input-available" in chunks and "finish" not in chunks
    await assert_cancelled(url, slow, memory, "t-ai-cancel")
    await memory.aclose()
    assert scan_files_for(CANARY, sqlite_artifacts(memory_db)) == []
