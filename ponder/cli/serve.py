"""``ponder serve``: the agents over HTTP (native API, SSE, OpenAI-compatible)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ponder.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_backend_options,
    add_memory_options,
    add_sandbox_options,
    budgets_from,
    code_runner_from,
    make_backend_from,
    open_memory,
)
from ponder.cli._telemetry import add_telemetry_options, telemetry_from

if TYPE_CHECKING:
    from ponder.agents import StreamingAgent

__all__ = ["add_arguments", "main"]

SERVED_AGENTS = ("react", "math-tutor")


def add_arguments(serve: argparse.ArgumentParser) -> None:
    """The options of ``ponder serve``."""
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    add_backend_options(serve)
    add_memory_options(serve)
    add_sandbox_options(serve)
    serve.add_argument(
        "--agent",
        action="append",
        choices=SERVED_AGENTS,
        help="agent to serve, by name; repeatable (default: react and math-tutor)",
    )
    serve.add_argument(
        "--allow-reasoning",
        action="store_true",
        help="let requests that ask for it receive reasoning events",
    )
    serve.add_argument(
        "--max-steps", type=int, default=None, help="model calls that may use tools, per run"
    )
    serve.add_argument("--timeout", type=float, default=None, help="wall-time budget per run")
    add_telemetry_options(serve, trace_file=False)


def main(args: argparse.Namespace) -> int:
    """Serve the named agents; bearer tokens come from env PONDER_SERVER_TOKENS."""
    try:
        from ponder.server import create_app, serve
    except ImportError:
        raise CliError(
            "ponder serve needs the server extra: pip install 'ponder[server]'", EXIT_USAGE
        ) from None
    from ponder.agents.registry import build_agent

    backend = make_backend_from(args)
    memory = open_memory(args.memory)
    budgets = budgets_from(args)
    runner = code_runner_from(args)

    def factory(name: str) -> Callable[[], StreamingAgent]:
        return lambda: build_agent(
            name, backend=backend, memory=memory, budgets=budgets, code_runner=runner
        )

    tokens = [t for t in os.environ.get("PONDER_SERVER_TOKENS", "").split(",") if t.strip()]
    app = create_app(
        {name: factory(name) for name in args.agent or SERVED_AGENTS},
        memory=memory,
        api_keys=tokens or None,
        allow_reasoning=args.allow_reasoning,
    )
    with telemetry_from(args):
        serve(args.host, args.port, app)
    return EXIT_OK
