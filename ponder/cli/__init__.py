"""The ``ponder`` command: one module per subcommand.

Starting is cheap: only the chosen subcommand's module is imported, and each
keeps its heavy imports (LangGraph, httpx, rich) inside the functions that
run it, so ``ponder --help`` and usage errors answer at once.

Each subcommand module offers ``add_arguments(parser)`` and ``main(args) ->
int``. Every failure ends with one clear line on stderr and a non-zero exit
code, never a traceback (codes in :mod:`ponder.cli._common`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from ponder import __version__
from ponder.cli._common import EXIT_CODES_HELP, EXIT_INTERRUPTED, CliError

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("ponder.cli.run", "ask one question and print the answer"),
    "chat": ("ponder.cli.chat", "an interactive session on one thread"),
    "serve": ("ponder.cli.serve", "serve agents over HTTP (needs ponder[server])"),
    "doctor": ("ponder.cli.doctor", "probe the configured backend and print what it supports"),
    "index": ("ponder.cli.index", "index a folder for the local search tool"),
    "fake-model": (
        "ponder.cli.fake_model",
        "serve a fake model on loopback (try ponder offline)",
    ),
    "runs": ("ponder.cli.runs", "list runs; resume a paused or abandoned one"),
    "mcp": ("ponder.cli.mcp", "serve agents as MCP tools over stdio (needs ponder[mcp])"),
    "trace": ("ponder.cli.trace", "print a --trace file as a timeline of steps, calls and tokens"),
}
"""Subcommand name → (module, one-line help)."""


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``ponder`` script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="ponder",
        description="Agents for reasoning models of the DeepSeek-R1 class.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"ponder {__version__}")
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    chosen = next((a for a in arguments if not a.startswith("-")), None)
    module = None
    for name, (path, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary, epilog=EXIT_CODES_HELP)
        if name == chosen:
            module = importlib.import_module(path)
            module.add_arguments(sub)
    args = parser.parse_args(arguments)
    assert module is not None  # argparse refused any other subcommand
    try:
        code: int = module.main(args)
    except CliError as exc:
        print(f"ponder: {exc}", file=sys.stderr)
        code = exc.code
    except KeyboardInterrupt:
        print("ponder: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    sys.exit(code)
