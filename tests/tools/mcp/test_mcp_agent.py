"""An agent calling MCP tools through the whole loop: fake model on loopback, real servers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import SERVER_SCRIPT, serve_http

pytest.importorskip("mcp", reason="the mcp SDK is not installed (pip install 'ponder[mcp]')")

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.backends.types import ToolCall
from ponder.cli import main as cli_main
from ponder.testing import FakeModelServer, ToolCallSpec, Turn
from ponder.tools import ToolBox
from ponder.tools.mcp import HttpServer, McpToolset, StdioServer

pytestmark = pytest.mark.slow

CANARY = "CANARY-mcp-client-reasoning-51c2"
STDIO = StdioServer(sys.executable, (str(SERVER_SCRIPT), "stdio"), name="calc")


def backend_for(server: FakeModelServer, profile: str) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(
        base_url=server.base_url, model="fake-r1", api_key="sk-test", profile=profile
    )


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


@pytest.mark.parametrize(
    ("shape", "profile"), [("deepseek", "deepseek"), ("raw", "openai-compatible")]
)
async def test_an_agent_calls_an_mcp_tool_through_the_loop(
    shape: str, profile: str, tmp_path: Path
) -> None:
    script = [
        Turn(
            reasoning=f"{CANARY} add them",
            tool_calls=[ToolCallSpec("calc__add", {"a": 20, "b": 22})],
        ),
        Turn(reasoning=f"{CANARY} got it", content="The sum is 42."),
    ]
    with serve_http(tmp_path) as (url, log), FakeModelServer(script, shape=shape) as model:
        async with backend_for(model, profile) as backend:
            servers = [HttpServer(url, name="calc")]
            async with Agent(backend, mcp_servers=servers) as agent:
                result = await agent.arun("What is 20 + 22?")
        calls = [line for line in log.read_text().splitlines() if "tools/call" in line]
        assert CANARY not in log.read_text()  # nothing of the reasoning reached the server
    assert result.ok and result.answer == "The sum is 42."
    [record] = result.tool_calls
    assert record.name == "calc__add" and record.ok
    [call] = calls
    assert json.loads(call)["params"]["arguments"] == {"a": 20, "b": 22}
    sent = [spec["function"]["name"] for spec in model.requests[0].body["tools"]]
    assert "calc__add" in sent
    [message] = tool_messages(model.requests[1].body)
    assert "untrusted data" in message["content"] and "\n42\n" in message["content"]


async def test_a_failed_mcp_call_lets_the_model_carry_on(tmp_path: Path) -> None:
    script = [
        Turn(reasoning="try", tool_calls=[ToolCallSpec("calc__add", {"a": "x", "b": 1})]),
        Turn(reasoning="crash it", tool_calls=[ToolCallSpec("calc__crash", {})]),
        Turn(reasoning="again", tool_calls=[ToolCallSpec("calc__add", {"a": 1, "b": 1})]),
        Turn(reasoning="done", content="1 + 1 = 2."),
    ]
    with FakeModelServer(script, shape="deepseek") as model:
        async with (
            backend_for(model, "deepseek") as backend,
            Agent(backend, mcp_servers=[STDIO]) as agent,
        ):
            result = await agent.arun("add")
    assert result.ok and result.answer == "1 + 1 = 2."
    assert [r.ok for r in result.tool_calls] == [False, False, True]
    errors = [m["content"] for m in tool_messages(model.requests[3].body)]
    assert "is not of type 'integer'" in errors[0]
    assert "disconnected during the call" in errors[1]


def ponder_run(*args: str) -> tuple[int, str, str]:
    """``ponder run ARGS`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.raises(SystemExit) as exited,
    ):
        cli_main(["run", *args])
    return int(exited.value.code or 0), out.getvalue(), err.getvalue()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("PONDER_", "DEEPSEEK_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PONDER_MEMORY_URL", f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.usefixtures("cli_env")
def test_ponder_run_with_mcp_servers(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    command = {"command": sys.executable, "args": [str(SERVER_SCRIPT), "stdio"]}
    config.write_text(json.dumps({"mcpServers": {"filed": command}}))
    script = [
        Turn(reasoning="r", tool_calls=[ToolCallSpec("calc__add", {"a": 1, "b": 2})]),
        Turn(reasoning="r", tool_calls=[ToolCallSpec("filed__add", {"a": 3, "b": 4})]),
        Turn(reasoning="r", content="3 and 7."),
    ]
    with FakeModelServer(script, shape="vllm") as model:
        mcp_value = f"calc={sys.executable} {SERVER_SCRIPT} stdio"
        code, out, err = ponder_run(
            "add", "--base-url", model.base_url, "--model", "r1",
            "--mcp", mcp_value, "--mcp-config", str(config), "--json",
        )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["answer"] == "3 and 7."
    assert [(c["name"], c["ok"]) for c in result["tool_calls"]] == [
        ("calc__add", True),
        ("filed__add", True),
    ]


@pytest.mark.usefixtures("cli_env")
def test_ponder_run_reports_a_server_that_cannot_start_in_one_line() -> None:
    with FakeModelServer([Turn(content="unused")], shape="vllm") as model:
        code, _out, err = ponder_run(
            "q", "--base-url", model.base_url, "--model", "r1",
            "--mcp", "/no/such/mcp-server --flag",
        )  # fmt: skip
    assert code == 2, err
    assert "cannot start MCP server 'server' (/no/such/mcp-server --flag)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_toolset_reconnects_in_each_new_event_loop() -> None:
    """``asyncio.run`` per call (as ``Agent.run`` does): each loop gets its own session."""
    toolset = McpToolset([STDIO])
    box = ToolBox(asyncio.run(toolset.tools()))
    call = ToolCall(id="1", name="calc__pid", arguments="{}")
    first = asyncio.run(box.run(call))
    second = asyncio.run(box.run(call))
    asyncio.run(toolset.aclose())
    assert first.ok and second.ok, (first.output, second.output)
    assert first.output != second.output  # the first loop's server ended with its loop
