"""ponder agents as MCP tools, driven by the official ``mcp`` Python client (HTTP and stdio)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from pydantic import BaseModel
from server_harness import fake_agent, last_user_text, serving

from ponder.backends.types import ToolCall
from ponder.memory import MemoryStore
from ponder.server import create_app
from ponder.testing import FakeModelServer, Turn

pytest.importorskip("mcp", reason="the mcp SDK is not installed (pip install 'ponder[mcp]')")
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ProgressNotificationParams, TextContent

from ponder.tools import ToolBox
from ponder.tools.mcp import HttpServer, McpToolset, McpUnavailable

pytestmark = pytest.mark.slow

CANARY = "CANARY-mcp-reasoning-7f3a"
TOKEN = "tok-mcp-1"


class Verdict(BaseModel):
    verdict: str
    confidence: float


def reply(body: Mapping[str, Any]) -> Turn:
    question = last_user_text(body)
    if "JSON" in body["messages"][0]["content"]:
        return Turn(reasoning=CANARY, content='{"verdict": "prime", "confidence": 0.9}')
    return Turn(reasoning=f"{CANARY} thinking about {question}", content=f"Answer to {question}")


def text_of(result: Any) -> str:
    return "".join(b.text for b in result.content if isinstance(b, TextContent))


def http_client(url: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers)


async def test_agents_over_streamable_http(
    memory: MemoryStore, memory_db: Path, log_file: Path
) -> None:
    async with (
        fake_agent(reply, memory) as (tutor, _srv),
        fake_agent(reply, memory, response_schema=Verdict) as (judge, _srv2),
    ):
        app = create_app({"tutor": tutor, "judge": judge}, memory=memory, api_keys=[TOKEN])
        async with serving(app) as base:
            url = f"{base}/mcp"
            progress: list[ProgressNotificationParams] = []

            async def on_progress(p: float, total: float | None, message: str | None) -> None:
                progress.append(ProgressNotificationParams(progress_token=0, progress=p))

            async with (
                http_client(url, TOKEN) as http,
                Client(streamable_http_client(url, http_client=http), cache=None) as client,
            ):
                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert set(tools) == {"tutor", "judge"}
                assert tools["tutor"].input_schema["required"] == ["question"]
                assert "as JSON text" in (tools["judge"].description or "")

                answered = await client.call_tool(
                    "tutor", {"question": "what is 2+2"}, progress_callback=on_progress
                )
                assert not answered.is_error
                assert text_of(answered) == "Answer to what is 2+2"

                judged = await client.call_tool("judge", {"question": "is 7 prime"})
                assert json.loads(text_of(judged)) == {"verdict": "prime", "confidence": 0.9}

                bad = await client.call_tool("tutor", {"query": "no question field"})
                assert bad.is_error and "question" in text_of(bad)
                empty = await client.call_tool("tutor", {"question": "  "})
                assert empty.is_error and "the question is empty" in text_of(empty)
                unknown = await client.call_tool("nobody", {"question": "hi"})
                assert unknown.is_error and "nobody" in text_of(unknown)
                received = [answered, judged, bad, empty, unknown]

            assert progress == []  # reasoning is not sent without --allow-reasoning
            for token in (None, "wrong-token"):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with httpx.AsyncClient() as plain:
                    raw = await plain.post(url, json={"jsonrpc": "2.0"}, headers=headers)
                assert raw.status_code == 401 and raw.headers["www-authenticate"] == "Bearer"
                async with http_client(url, token) as anonymous:
                    with pytest.raises(BaseExceptionGroup) as refused:
                        async with Client(
                            streamable_http_client(url, http_client=anonymous), cache=None
                        ) as client:
                            await client.list_tools()
                assert "missing or invalid bearer token" in repr(refused.value)
            # ponder's own MCP client, with the token as a header, and without it
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with McpToolset([HttpServer(url, name="p", headers=headers)]) as mcp:
                box = ToolBox(mcp.tools_loaded)
                call = ToolCall(id="1", name="p__tutor", arguments='{"question": "hi"}')
                through_ponder = await box.run(call)
            with pytest.raises(McpUnavailable, match="missing or invalid bearer token"):
                await McpToolset([HttpServer(url, name="p")]).tools()
    assert through_ponder.ok and "\nAnswer to hi\n" in through_ponder.output
    wire = json.dumps([r.model_dump(mode="json") for r in received])
    assert CANARY not in wire
    assert_no_canary(memory_db.parent, log_file)


async def test_reasoning_goes_out_only_as_progress_when_allowed(memory: MemoryStore) -> None:
    async with fake_agent(reply, memory) as (tutor, _srv):
        app = create_app({"tutor": tutor}, memory=memory, allow_reasoning=True)
        async with serving(app) as base:
            url = f"{base}/mcp"
            messages: list[str] = []

            async def on_progress(p: float, total: float | None, message: str | None) -> None:
                messages.append(message or "")

            async with (
                http_client(url, None) as http,
                Client(streamable_http_client(url, http_client=http), cache=None) as client,
            ):
                result = await client.call_tool(
                    "tutor", {"question": "why"}, progress_callback=on_progress
                )
    assert CANARY in "".join(messages)
    assert CANARY not in result.model_dump_json()
    assert text_of(result) == "Answer to why"


async def test_ponder_mcp_over_stdio(tmp_path: Path) -> None:
    db = tmp_path / "stdio-memory.db"
    stderr = tmp_path / "stderr.log"
    with FakeModelServer(reply, shape="deepseek") as model:
        env = {
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "PONDER_BASE_URL": model.base_url,
            "PONDER_MODEL": "deepseek-v4-pro",
            "PONDER_API_KEY": "sk-stdio-secret",
            "HOME": str(tmp_path),
        }
        command = [
            "-m", "ponder", "mcp", "--agent", "react", "--memory", f"sqlite:///{db}",
        ]  # fmt: skip
        parameters = StdioServerParameters(command=sys.executable, args=command, env=env)
        with open(stderr, "w", encoding="utf-8") as errlog:  # noqa: ASYNC230 - a test log
            async with Client(stdio_client(parameters, errlog=errlog), cache=None) as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                assert tools == ["react"]
                result = await client.call_tool("react", {"question": "what is 3+4"})
                bad = await client.call_tool("react", {})
    assert not result.is_error, text_of(result)
    assert "Answer to" in text_of(result)
    assert bad.is_error and "question" in text_of(bad)
    assert CANARY not in result.model_dump_json() + bad.model_dump_json()
    assert "sk-stdio-secret" not in stderr.read_text()
    assert_no_canary(tmp_path, stderr)


def assert_no_canary(folder: Path, *logs: Path) -> None:
    files = [p for p in folder.rglob("*") if p.is_file()] + list(logs)
    assert files
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
