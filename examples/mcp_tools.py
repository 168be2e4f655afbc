"""Tools from an MCP server: the reference filesystem server, offered like native tools.

Shows ``Agent(backend, mcp_servers=[...])``: ponder starts the server over
stdio (through the official ``mcp`` SDK), lists its tools as ``fs__<tool>``,
validates the model's arguments against each tool's JSON Schema, and frames
what comes back as untrusted data. The server only serves one folder: a path
outside it is refused, the model reads the refusal as a tool error and goes on.

Needs ``pip install 'ponder[mcp]'`` and Node.js (the server comes from npm;
``npm ci --prefix .ci/node`` installs the pinned copy used here, else ``npx``
fetches it). Run against a real model::

    PONDER_BASE_URL=https://api.deepseek.com PONDER_MODEL=deepseek-v4-pro \\
    PONDER_API_KEY=sk-... python examples/mcp_tools.py

or offline against a scripted fake model: ``python examples/mcp_tools.py --fake``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from _fake import backend

from ponder.agents import Agent, FinalEvent
from ponder.graphs import ToolCallEvent, ToolResultEvent
from ponder.testing import ToolCallSpec, Turn
from ponder.tools.mcp import StdioServer

PINNED = Path(__file__).resolve().parents[1] / ".ci/node/node_modules/.bin/mcp-server-filesystem"
QUESTION = "When is the release, according to the notes? Also check /etc/hostname."


def filesystem_server(folder: Path) -> StdioServer:
    """The reference server, sharing only ``folder``: the pinned copy, else npx."""
    if PINNED.exists():
        return StdioServer(str(PINNED), (str(folder),), name="fs")
    npx = shutil.which("npx") or "npx"
    package = "@modelcontextprotocol/server-filesystem@2026.8.31"
    return StdioServer(npx, ("-y", package, str(folder)), name="fs")


def fake_model(folder: Path) -> Any:
    """The scripted model: list the folder, try a path outside it, read the notes, answer."""

    def call(tool: str, **arguments: Any) -> Turn:
        return Turn(reasoning=f"Use {tool}.", tool_calls=[ToolCallSpec(tool, arguments)])

    return [
        call("fs__list_directory", path=str(folder)),
        call("fs__read_text_file", path="/etc/hostname"),
        call("fs__read_text_file", path=str(folder / "notes.txt")),
        Turn(
            reasoning="The notes say Friday; /etc/hostname was refused.",
            content="The release is on Friday at 10:00 (from notes.txt). "
            "/etc/hostname is outside the shared folder, so the server refused to read it.",
        ),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp).resolve()
        (folder / "notes.txt").write_text("Release: Friday 10:00. Owner: Ada.\n")
        (folder / "todo.md").write_text("- write the changelog\n")
        asyncio.run(ask(folder))


async def ask(folder: Path) -> None:
    """Run the agent with the filesystem server sharing ``folder``."""
    async with (
        backend(fake_model(folder)) as model,
        Agent(model, mcp_servers=[filesystem_server(folder)]) as agent,
    ):
        async for event in agent.astream(QUESTION):
            if isinstance(event, ToolCallEvent):
                print(f"[tool call] {event.name} {event.arguments}")
            elif isinstance(event, ToolResultEvent):
                print(f"[tool result] {_summary(event)}")
            elif isinstance(event, FinalEvent):
                result = event.result
        fs_tools = [name for name in agent.toolbox.names if name.startswith("fs__")]
    print(f"MCP tools offered: {len(fs_tools)} ({', '.join(fs_tools[:4])}, ...)")
    print(f"Outcome: {result.outcome}")
    print(f"Final answer: {result.answer}")


def _summary(event: ToolResultEvent) -> str:
    """An error's first line, or the first line of data inside the untrusted-data frame."""
    lines = event.output.splitlines()
    if not event.ok:
        return f"error: {lines[0][:120]}"
    return f"ok: {(lines[2] if len(lines) > 2 else '')[:120]}"


if __name__ == "__main__":
    main()
