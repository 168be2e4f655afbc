"""The MCP client against a FastMCP server of our own, over stdio and Streamable HTTP."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from mcp_helpers import SERVER_SCRIPT, serve_http

pytest.importorskip("mcp", reason="the mcp SDK is not installed (pip install 'ponder[mcp]')")

from ponder.backends.types import ToolCall
from ponder.tools import ToolBox
from ponder.tools.mcp import HttpServer, McpToolset, McpUnavailable, StdioServer
from ponder.tools.mcp.content import UNTRUSTED_NOTE

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def stdio_spec() -> StdioServer:
    command, args = sys.executable, (str(SERVER_SCRIPT), "stdio")
    return StdioServer(command, args, name="t", timeout_s=30)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stdio_toolset(stdio_spec: StdioServer) -> AsyncIterator[McpToolset]:
    async with McpToolset([stdio_spec]) as mcp:
        yield mcp


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http_toolset(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[McpToolset]:
    with serve_http(tmp_path_factory.mktemp("http")) as (url, _log):
        async with McpToolset([HttpServer(url, name="t", timeout_s=30)]) as mcp:
            yield mcp


@pytest.fixture(params=["stdio", "http"])
def toolset(request: pytest.FixtureRequest) -> McpToolset:
    """The same server's tools, over each transport (one session per module)."""
    return request.getfixturevalue(f"{request.param}_toolset")  # type: ignore[no-any-return]


async def call(box: ToolBox, name: str, arguments: dict[str, Any] | str) -> Any:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return await box.run(ToolCall(id="c1", name=name, arguments=text))


async def test_tools_are_listed_with_the_server_prefix_and_schema(toolset: McpToolset) -> None:
    tools = {t.name: t for t in toolset.tools_loaded}
    assert {"t__add", "t__echo_arguments", "t__crash", "t__hang"} <= set(tools)
    add = tools["t__add"]
    assert add.remote_name == "add" and add.server == "t"
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert "Add two integers" in add.description


async def test_a_call_returns_framed_text(toolset: McpToolset) -> None:
    result = await call(ToolBox(toolset.tools_loaded), "t__add", {"a": 2, "b": 40})
    assert result.ok, result.output
    assert result.output.startswith(UNTRUSTED_NOTE)
    assert '<tool_output server="t" tool="add">\n42\n</tool_output>' in result.output


async def test_bad_arguments_and_unknown_tools_are_tool_errors(toolset: McpToolset) -> None:
    box = ToolBox(toolset.tools_loaded)
    bad = await call(box, "t__add", {"a": "two"})
    assert bad.error_kind == "invalid_arguments"
    assert "'two' is not of type 'integer'" in bad.output and "'b' is a required" in bad.output
    broken = await call(box, "t__add", '{"a": 1,')
    assert broken.error_kind == "bad_json"
    unknown = await call(box, "t__nope", {})
    assert unknown.error_kind == "unknown_tool" and "t__add" in unknown.output


async def test_a_tool_error_from_the_server_is_reported(toolset: McpToolset) -> None:
    result = await call(ToolBox(toolset.tools_loaded), "t__fail", {"reason": "because"})
    assert not result.ok and result.error_kind == "exception"
    assert "McpToolError" in result.output and "fail" in result.output


async def test_images_are_summarised_with_type_and_size(toolset: McpToolset) -> None:
    result = await call(ToolBox(toolset.tools_loaded), "t__picture", {})
    assert result.ok
    assert "a square\n[image: image/png, 100 bytes]" in result.output


async def test_an_injection_stays_inside_the_data_frame(toolset: McpToolset) -> None:
    result = await call(ToolBox(toolset.tools_loaded), "t__inject", {})
    body = result.output.split("\n", 2)[2]
    assert body.count("</tool_output>") == 1 and body.endswith("</tool_output>")
    assert "IGNORE ALL PREVIOUS INSTRUCTIONS" in body  # shown, as data
    assert "<｜User｜>" not in body and "‹/tool_output>" in body


async def test_output_is_capped_like_any_tool(http_toolset: McpToolset) -> None:
    tools = [t for t in http_toolset.tools_loaded if t.name == "t__echo_arguments"]
    tools[0].max_output_chars = 100
    try:
        result = await call(ToolBox(tools), "t__echo_arguments", {"text": "x" * 500})
    finally:
        tools[0].max_output_chars = 20_000
    assert result.ok and result.truncated_chars > 0 and len(result.output) <= 100
    assert result.output.endswith("</tool_output>")


async def test_annotations_become_approval_defaults(toolset: McpToolset) -> None:
    tools = {t.name: t for t in toolset.tools_loaded}
    assert tools["t__add"].needs_approval_default is False
    assert tools["t__add"].annotations is not None and tools["t__add"].annotations.read_only_hint
    assert tools["t__delete_everything"].needs_approval_default is True
    assert tools["t__echo_arguments"].needs_approval_default is None


async def test_a_crash_mid_call_is_a_tool_error_and_the_next_call_reconnects(
    stdio_spec: StdioServer,
) -> None:
    toolset = McpToolset([stdio_spec])
    await toolset.tools()
    box = ToolBox(toolset.tools_loaded)
    before = await call(box, "t__pid", {})
    crashed = await call(box, "t__crash", {})
    assert not crashed.ok and crashed.error_kind == "exception"
    assert "disconnected during the call" in crashed.output
    assert "restarted for the next call" in crashed.output
    after = await call(box, "t__pid", {})
    await toolset.aclose()
    assert after.ok, after.output
    assert after.output != before.output  # a new server process answered


async def test_a_dead_http_server_is_a_clear_error(tmp_path: Path) -> None:
    with serve_http(tmp_path) as (url, _log):
        async with McpToolset([HttpServer(url, name="t", timeout_s=30)]) as mcp:
            box = ToolBox(mcp.tools_loaded)
            crashed = await call(box, "t__crash", {})
            assert not crashed.ok and crashed.error_kind == "exception"
            again = await call(box, "t__pid", {})
    assert not again.ok and "McpUnavailable" in again.output and url in again.output


async def test_a_hanging_call_times_out_and_the_server_stays_usable(
    toolset: McpToolset,
) -> None:
    tools = {t.name: t for t in toolset.tools_loaded}
    tools["t__hang"].timeout_s = 1
    box = ToolBox(toolset.tools_loaded)
    hung = await call(box, "t__hang", {})
    assert hung.error_kind == "timeout" and "time limit of 1 s" in hung.output
    after = await call(box, "t__add", {"a": 1, "b": 1})
    assert after.ok and "\n2\n" in after.output


async def test_two_servers_never_collide_and_only_the_model_arguments_reach_them(
    stdio_spec: StdioServer, tmp_path: Path
) -> None:
    with serve_http(tmp_path) as (url, log):
        servers = [stdio_spec, HttpServer(url, name="t", headers={"X-Token": "abc"})]
        async with McpToolset(servers) as mcp:
            names = [t.name for t in mcp.tools_loaded]
            box = ToolBox(mcp.tools_loaded)
            result = await call(box, "t_2__echo_arguments", {"text": "hi"})
    assert len(names) == len(set(names)) and "t__add" in names and "t_2__add" in names
    assert json.loads(result.output.split("\n")[2]) == {"text": "hi", "count": 1}
    calls = [json.loads(line) for line in log.read_text().splitlines() if '"tools/call"' in line]
    assert len(calls) == 1
    params = calls[0]["params"]
    assert params["name"] == "echo_arguments" and params["arguments"] == {"text": "hi"}
    assert set(params) <= {"name", "arguments", "_meta"}


async def test_a_server_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    missing = StdioServer(str(tmp_path / "no-such-server"), name="gone")
    with pytest.raises(McpUnavailable, match="cannot start MCP server 'gone'"):
        await McpToolset([missing]).tools()


async def test_a_failing_server_reports_its_stderr(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("import sys\nprint('missing config file /etc/x', file=sys.stderr)\n")
    with pytest.raises(McpUnavailable, match="missing config file /etc/x"):
        await McpToolset([StdioServer(sys.executable, (str(script),), name="bad")]).tools()
