"""``ponder chat``: an interactive session on one thread (the session is in ``chat_session``)."""

from __future__ import annotations

import argparse

from ponder.cli._common import (
    AGENT_NAMES,
    add_backend_options,
    add_memory_options,
    add_sandbox_options,
)

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ponder chat``: ``ponder run``'s backend and memory options."""
    add_backend_options(parser)
    parser.add_argument(
        "--agent", default="react", choices=AGENT_NAMES, help="which agent (default: react)"
    )
    add_memory_options(parser)
    add_sandbox_options(parser)
    parser.add_argument("--thread", default=None, help="resume this conversation")
    parser.add_argument(
        "--max-steps", type=int, default=None, help="model calls that may use tools"
    )
    parser.add_argument(
        "--approve",
        action="append",
        default=[],
        metavar="TOOL",
        help="ask y/n/edit before each call of this tool (repeatable; react agent)",
    )


def main(args: argparse.Namespace) -> int:
    """Run the session until the user leaves; 0, or 2 for bad options or configuration."""
    import asyncio

    from ponder.cli.chat_session import chat_main

    return asyncio.run(chat_main(args))
