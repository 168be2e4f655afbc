"""MCP server descriptions: ``--mcp`` values, ``{"mcpServers": ...}`` files, tool names."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the mcp SDK is not installed (pip install 'ponder[mcp]')")

from ponder.cli._common import CliError, mcp_servers_from
from ponder.tools.mcp import HttpServer, McpConfigError, StdioServer, load_config, parse_server
from ponder.tools.mcp.config import tool_name, unique_names


def test_a_command_line_becomes_a_stdio_server_named_after_its_package() -> None:
    server = parse_server("npx -y @modelcontextprotocol/server-filesystem '/my data'")
    assert isinstance(server, StdioServer)
    assert server.command == "npx"
    assert server.args == ("-y", "@modelcontextprotocol/server-filesystem", "/my data")
    assert server.name == "filesystem"
    assert parse_server("uvx mcp-server-git --repo .").name == "git"
    assert parse_server("python weather_mcp.py").name == "weather"


def test_a_url_becomes_an_http_server_and_a_name_can_be_given() -> None:
    server = parse_server("docs=https://mcp.example.com/mcp")
    assert isinstance(server, HttpServer)
    assert (server.name, server.url) == ("docs", "https://mcp.example.com/mcp")
    assert parse_server("http://localhost:8000/mcp").name == "localhost"
    named = parse_server("fs=npx -y @modelcontextprotocol/server-filesystem /d")
    assert isinstance(named, StdioServer) and named.name == "fs" and named.command == "npx"


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "empty --mcp value"), ("echo 'unclosed", "cannot parse"), ("bad__name=x", "'__'")],
)
def test_bad_values_are_one_clear_error(value: str, message: str) -> None:
    with pytest.raises(McpConfigError, match=message):
        parse_server(value)


def test_the_config_file_format_of_other_clients(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    entries = {
        "files": {"command": "npx", "args": ["-y", "pkg"], "env": {"TOKEN": "s3cret"}},
        "remote": {"url": "https://x.example/mcp", "headers": {"Authorization": "Bearer k"}},
    }
    path.write_text(json.dumps({"mcpServers": entries}))
    files, remote = load_config(path)
    assert isinstance(files, StdioServer) and files.env == {"TOKEN": "s3cret"}
    assert isinstance(remote, HttpServer) and remote.headers["Authorization"] == "Bearer k"
    assert (files.name, remote.name) == ("files", "remote")
    assert "s3cret" not in repr(files) and "Bearer k" not in repr(remote)  # secrets stay out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"servers": {}}', '"mcpServers"'),
        ('{"mcpServers": {"a": {"args": []}}}', '"command" \\(stdio\\) or "url"'),
        ('{"mcpServers": {"a": {"command": "x", "args": "y"}}}', "args must be a list"),
        ('{"mcpServers": {"a": {"url": "ftp://x"}}}', "http\\(s\\)"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(McpConfigError, match=message):
        load_config(path)


def test_tool_names_are_prefixed_clean_and_bounded() -> None:
    assert tool_name("fs", "read_file") == "fs__read_file"
    assert tool_name("fs", "files/read.v2") == "fs__files_read_v2"
    long = tool_name("server", "x" * 100)
    assert len(long) == 64 and long != tool_name("server", "x" * 99)


def test_repeated_server_names_are_made_distinct() -> None:
    servers = unique_names([StdioServer("a", name="fs"), StdioServer("b", name="fs")])
    assert [s.name for s in servers] == ["fs", "fs_2"]


def test_the_cli_collects_both_options(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"b": {"command": "y"}}}))
    args = argparse.Namespace(mcp=["a=x --flag"], mcp_config=path)
    assert [s.name for s in mcp_servers_from(args)] == ["a", "b"]
    with pytest.raises(CliError, match="cannot read the MCP config"):
        mcp_servers_from(argparse.Namespace(mcp=[], mcp_config=tmp_path / "none.json"))
