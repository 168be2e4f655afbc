"""``ponder serve``: the agents over HTTP (native API, SSE, OpenAI-compatible, UI streams, page)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
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
    from fastapi import FastAPI

    from ponder.agents import StreamingAgent
    from ponder.agents.queue import QueueSettings

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
    serve.add_argument(
        "--no-page", action="store_true", help="do not serve the chat page at / (APIs only)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (uvicorn); use PostgreSQL memory for more than one, so runs, "
        "leases and kept events are shared",
    )
    serve.add_argument(
        "--queue",
        action="store_true",
        help="background runs: POST /agents/NAME/runs with background=true, then GET "
        "/runs/RUN_ID (a DBOS queue in the memory database; pip install 'ponder[queue]')",
    )
    serve.add_argument(
        "--queue-concurrency",
        type=int,
        default=4,
        metavar="N",
        help="background runs one worker process runs at a time (default 4)",
    )
    serve.add_argument(
        "--queue-global-concurrency",
        type=int,
        default=None,
        metavar="N",
        help="background runs all worker processes together run at a time (default: no bound)",
    )
    add_telemetry_options(serve, trace_file=False)


def main(args: argparse.Namespace) -> int:
    """Serve the named agents; bearer tokens come from env PONDER_SERVER_TOKENS."""
    try:
        from ponder.server import serve
    except ImportError:
        raise CliError(
            "ponder serve needs the server extra: pip install 'ponder[server]'", EXIT_USAGE
        ) from None
    if args.workers < 1:
        raise CliError("--workers must be at least 1", EXIT_USAGE)
    if args.queue:
        _check_queue(args)
    if args.workers > 1:
        import uvicorn

        # Each worker process builds its own app from these options.
        os.environ[_ARGS_ENV] = json.dumps(vars(args), default=str)
        uvicorn.run(
            "ponder.cli.serve:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            timeout_graceful_shutdown=30,
            proxy_headers=False,
        )
        return EXIT_OK
    with telemetry_from(args):
        serve(args.host, args.port, build_app(args))
    return EXIT_OK


_ARGS_ENV = "PONDER_SERVE_OPTIONS"


def app_from_env() -> FastAPI:
    """The app of one worker of ``ponder serve --workers N`` (options from the parent)."""
    return build_app(argparse.Namespace(**json.loads(os.environ[_ARGS_ENV])))


def _check_queue(args: argparse.Namespace) -> None:
    from ponder.agents.queue import QUEUE_HINT

    if importlib.util.find_spec("dbos") is None:
        raise CliError(QUEUE_HINT, EXIT_USAGE)
    for option in ("queue_concurrency", "queue_global_concurrency"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise CliError(f"--{option.replace('_', '-')} must be at least 1", EXIT_USAGE)


def _queue_settings(args: argparse.Namespace) -> QueueSettings | None:
    """Background runs, when ``--queue`` asks; each of several workers is its own executor."""
    if not getattr(args, "queue", False):
        return None
    from ponder.agents.queue import QueueSettings

    return QueueSettings(
        worker_concurrency=args.queue_concurrency,
        concurrency=args.queue_global_concurrency,
        executor_id=f"{socket.gethostname()}-{os.getpid()}" if args.workers > 1 else None,
    )


def build_app(args: argparse.Namespace) -> FastAPI:
    """The app ``ponder serve`` serves, from its parsed options."""
    from ponder.agents.registry import build_agent
    from ponder.server import create_app

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
        run_lease_s=float(os.environ["PONDER_RUN_LEASE_S"])
        if os.environ.get("PONDER_RUN_LEASE_S")
        else None,
        page=not args.no_page,
        background=_queue_settings(args),
    )
    return app
