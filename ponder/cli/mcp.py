"""``ponder mcp``: the agents as MCP tools over stdio, for editors and other agent frameworks.

Each agent is one tool (``question`` in, final answer out). stdout carries
the protocol only; logs go to stderr. Reasoning is sent (as progress
notifications) only with ``--allow-reasoning``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from ponder.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_backend_options,
    add_memory_options,
    budgets_from,
    make_backend_from,
    open_memory,
)

if TYPE_CHECKING:
    from ponder.agents import StreamingAgent

__all__ = ["add_arguments", "main"]

SERVED_AGENTS = ("react", "math-tutor")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ponder mcp``."""
    add_backend_options(parser)
    add_memory_options(parser)
    parser.add_argument(
        "--agent",
        action="append",
        choices=SERVED_AGENTS,
        help="agent to offer as a tool, by name; repeatable (default: react and math-tutor)",
    )
    parser.add_argument(
        "--allow-reasoning",
        action="store_true",
        help="send reasoning as MCP progress notifications to clients that ask for progress",
    )
    parser.add_argument(
        "--max-steps", type=int, default=None, help="model calls that may use tools, per run"
    )
    parser.add_argument("--timeout", type=float, default=None, help="wall-time budget per run")


def main(args: argparse.Namespace) -> int:
    """Serve the agents over stdio until the client closes the connection."""
    try:
        from ponder.server.mcp import mcp_server
    except ImportError:
        raise CliError(
            "ponder mcp needs the mcp extra: pip install 'ponder[mcp]'", EXIT_USAGE
        ) from None
    from ponder.agents.registry import build_agent

    backend = make_backend_from(args)
    memory = open_memory(args.memory)
    budgets = budgets_from(args)

    def factory(name: str) -> Callable[[], StreamingAgent]:
        return lambda: build_agent(name, backend=backend, memory=memory, budgets=budgets)

    agents = {name: factory(name) for name in args.agent or SERVED_AGENTS}
    mcp_server(agents, send_reasoning=args.allow_reasoning).run("stdio")
    return EXIT_OK
