"""The MCP client against the reference servers from npm, which no one here wrote."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip("mcp", reason="the mcp SDK is not installed (pip install 'ponder[mcp]')")

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.backends.types import ToolCall
from ponder.testing import FakeModelServer, ToolCallSpec, Turn
from ponder.tools import ToolBox
from ponder.tools.mcp import McpToolset, StdioServer

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

SECRET = "sk-parent-process-secret-9d2e"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def everything(reference_servers: Path) -> AsyncIterator[ToolBox]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DEEPSEEK_API_KEY", SECRET)  # must not reach the server's environment
        server = StdioServer(str(reference_servers / "mcp-server-everything"), ("stdio",))
        async with McpToolset([server]) as mcp:
            yield ToolBox(mcp.tools_loaded)


async def call(box: ToolBox, name: str, arguments: dict[str, Any]) -> Any:
    return await box.run(ToolCall(id="c", name=name, arguments=json.dumps(arguments)))


async def test_text_tools_with_schemas(everything: ToolBox) -> None:
    echoed = await call(everything, "everything__echo", {"message": "hello there"})
    assert echoed.ok and "hello there" in echoed.output
    summed = await call(everything, "everything__get-sum", {"a": 2, "b": 3})
    assert summed.ok and "5" in summed.output
    wrong = await call(everything, "everything__get-sum", {"a": "two"})
    assert wrong.error_kind == "invalid_arguments" and "'b' is a required property" in wrong.output


async def test_images_and_resources_are_summarised(everything: ToolBox) -> None:
    image = await call(everything, "everything__get-tiny-image", {})
    assert image.ok
    assert "[image: image/png, " in image.output and " bytes]" in image.output
    resource = await call(everything, "everything__get-resource-reference", {})
    assert resource.ok and "[resource: " in resource.output


async def test_a_long_running_tool_with_progress_completes(everything: ToolBox) -> None:
    done = await call(
        everything, "everything__trigger-long-running-operation", {"duration": 1, "steps": 2}
    )
    assert done.ok and "completed" in done.output.lower()


async def test_this_process_secrets_do_not_reach_the_server(everything: ToolBox) -> None:
    env = await call(everything, "everything__get-env", {})
    assert env.ok and "PATH" in env.output
    assert SECRET not in env.output and "DEEPSEEK_API_KEY" not in env.output


async def test_the_filesystem_server_refuses_a_path_outside_and_the_agent_carries_on(
    reference_servers: Path, tmp_path: Path
) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    (root / "notes.txt").write_text("the meeting is at noon")
    outside = tmp_path / "private.txt"
    outside.write_text("PRIVATE-CONTENT-do-not-leak")

    def read(path: Path) -> Turn:
        return Turn(
            reasoning="r", tool_calls=[ToolCallSpec("fs__read_text_file", {"path": str(path)})]
        )

    script = [read(outside), read(root / "notes.txt"), Turn(content="The meeting is at noon.")]
    server = StdioServer(str(reference_servers / "mcp-server-filesystem"), (str(root),), name="fs")
    with FakeModelServer(script, shape="deepseek") as model:
        async with (
            OpenAICompatibleBackend(
                base_url=model.base_url, model="fake-r1", api_key="sk-x", profile="deepseek"
            ) as backend,
            Agent(backend, mcp_servers=[server]) as agent,
        ):
            result = await agent.arun("When is the meeting?")
    assert result.ok and result.answer == "The meeting is at noon."
    refused, read = result.tool_calls
    assert not refused.ok and "outside allowed directories" in refused.output.lower()
    assert read.ok and "the meeting is at noon" in read.output
    sent = json.dumps([r.body for r in model.requests])
    assert "PRIVATE-CONTENT-do-not-leak" not in sent
