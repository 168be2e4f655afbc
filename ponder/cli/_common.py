"""What the subcommands share: exit codes, one-line errors, backend and memory options.

This module is imported to build the parser, so it imports nothing heavy at
the top; the helpers that open backends and stores import them when called.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ponder.backends import BackendError, ChatBackend
    from ponder.graphs import Budgets
    from ponder.memory import MemoryStore
    from ponder.tools.code import RunnerPlan

__all__ = [
    "AGENT_NAMES",
    "EXIT_AUTH",
    "EXIT_AWAITING",
    "EXIT_BACKEND",
    "EXIT_CODES_HELP",
    "EXIT_INTERRUPTED",
    "EXIT_NO_ANSWER",
    "EXIT_OK",
    "EXIT_TRUNCATED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "NO_BACKEND_HINT",
    "PROVIDER_NAMES",
    "CliError",
    "add_backend_options",
    "add_memory_options",
    "add_sandbox_options",
    "announce_runner",
    "backend_failure",
    "budgets_from",
    "code_runner_from",
    "dim",
    "load_json_schema",
    "make_backend_from",
    "mcp_servers_from",
    "open_memory",
    "short",
    "write",
]

EXIT_OK, EXIT_NO_ANSWER, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_AUTH, EXIT_BACKEND = 0, 1, 2, 3, 4, 5
EXIT_TRUNCATED = 6
EXIT_AWAITING = 7
EXIT_INTERRUPTED = 130
EXIT_CODES_HELP = (
    "Exit codes: 0 answered; 1 no valid answer; 2 bad usage or configuration; "
    "3 backend unreachable; 4 authentication failed; 5 other backend error; "
    "6 answer cut off by the token limit; "
    "7 waiting for approval of a tool call (not on a terminal; the run id is printed); "
    "130 interrupted."
)

# Spelled out here so that building the parser imports no backend or agent code;
# tests/cli/test_cli_package.py checks them against the registries they mirror.
PROVIDER_NAMES: tuple[str, ...] = (
    "auto",
    "deepseek",
    "deepseek-r1",
    "openrouter",
    "vllm",
    "sglang",
    "ollama",
    "llamacpp",
    "deepseek-v4-raw",
    "openai-compatible",
    "ollama-native",
)
AGENT_NAMES: tuple[str, ...] = ("react", "math-tutor", "debugger")

NO_BACKEND_HINT = (
    "no model backend configured: set PONDER_BASE_URL and PONDER_MODEL for a local server "
    "(e.g. http://localhost:8000/v1 for vLLM, http://localhost:11434/v1 for Ollama), "
    "or PONDER_API_KEY with --provider deepseek for DeepSeek's hosted API, "
    "or pip install 'ponder[local]' and set PONDER_LOCAL_MODEL to a GGUF file"
)


class CliError(Exception):
    """A failure to report in one line, with its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """The model-backend options shared by ``run``, ``chat``, ``serve`` and ``doctor``."""
    env = os.environ.get
    parser.add_argument("--base-url", default=env("PONDER_BASE_URL"), help="env PONDER_BASE_URL")
    parser.add_argument("--model", default=env("PONDER_MODEL"), help="env PONDER_MODEL")
    parser.add_argument("--api-key", default=None, help="env PONDER_API_KEY (never echoed)")
    parser.add_argument(
        "--provider",
        default=env("PONDER_PROVIDER", "auto"),
        choices=PROVIDER_NAMES,
        help="provider profile (default auto: from the URL and model; env PONDER_PROVIDER)",
    )


def add_memory_options(parser: argparse.ArgumentParser) -> None:
    """Where final answers are remembered."""
    parser.add_argument(
        "--memory",
        default=os.environ.get("PONDER_MEMORY_URL"),
        help="SQLAlchemy URL, env PONDER_MEMORY_URL (default: SQLite in the user data dir)",
    )


def make_backend_from(args: argparse.Namespace) -> ChatBackend:
    """The configured backend; with none configured, the in-process local model.

    The local model needs the ``[local]`` extra; it is ``PONDER_LOCAL_MODEL``
    or the default R1 distill, downloaded on first use.
    """
    from ponder.backends import make_backend

    api_key = args.api_key or os.environ.get("PONDER_API_KEY")
    try:
        return make_backend(
            provider=args.provider, base_url=args.base_url, model=args.model, api_key=api_key
        )
    except ValueError as exc:
        if args.base_url or api_key or args.provider != "auto":
            raise CliError(str(exc), EXIT_USAGE) from None
    from ponder.backends.local import ENV_LOCAL_MODEL, LocalModelError, default_local_backend

    try:
        backend = default_local_backend()
    except LocalModelError as exc:
        if os.environ.get(ENV_LOCAL_MODEL, "").strip():
            raise CliError(str(exc), EXIT_USAGE) from None  # configured, and wrong: say so
        if args.model:
            raise CliError(
                f"--model / PONDER_MODEL is {args.model!r}, but no server to ask it: set "
                "PONDER_BASE_URL (e.g. http://localhost:8000/v1), or --provider deepseek with "
                "PONDER_API_KEY",
                EXIT_USAGE,
            ) from None
        raise CliError(NO_BACKEND_HINT, EXIT_USAGE) from None
    if sys.stderr.isatty():
        print(f"ponder: using the in-process local model {backend.model}", file=sys.stderr)
    return backend


def add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    """``--allow-unsandboxed``, for machines where no code sandbox can run."""
    parser.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="where no sandbox can run (no bubblewrap, no E2B_API_KEY), let run_python run "
        "code WITHOUT isolation instead of leaving it out",
    )


def code_runner_from(args: argparse.Namespace, *, announce: bool = True) -> RunnerPlan:
    """How ``run_python`` runs here; with ``announce``, says so now in one line on stderr
    when it is not the box (see :func:`announce_runner` for saying it later)."""
    from ponder.tools.code.choice import plan_runner

    plan = plan_runner(allow_unsandboxed=args.allow_unsandboxed)
    if announce:
        announce_runner(plan, args)
    return plan


def announce_runner(plan: RunnerPlan, args: argparse.Namespace) -> None:
    """The plan's one line on stderr, if it has one (the debugger has its own rule)."""
    if plan.note is not None and getattr(args, "agent", None) != "debugger":
        print(f"ponder: {plan.note}", file=sys.stderr)


def mcp_servers_from(args: argparse.Namespace) -> list[Any]:
    """The MCP servers named by ``--mcp`` values and the ``--mcp-config`` file."""
    values, config = getattr(args, "mcp", None) or [], getattr(args, "mcp_config", None)
    if not values and config is None:
        return []
    try:
        from ponder.tools.mcp import McpConfigError, load_config, parse_server
    except ImportError:
        raise CliError("--mcp needs the mcp extra: pip install 'ponder[mcp]'", EXIT_USAGE) from None
    try:
        servers = [parse_server(value) for value in values]
        if config is not None:
            servers.extend(load_config(config))
    except McpConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    return servers


def budgets_from(args: argparse.Namespace) -> Budgets:
    """The run budgets from ``--max-steps``, ``--max-tokens`` and ``--timeout``."""
    from ponder.graphs import Budgets

    defaults = Budgets()
    max_steps = getattr(args, "max_steps", None)
    timeout = getattr(args, "timeout", None)
    try:
        return Budgets(
            max_steps=max_steps if max_steps is not None else defaults.max_steps,
            max_tokens_per_call=getattr(args, "max_tokens", None),
            wall_time_s=timeout if timeout is not None else defaults.wall_time_s,
        )
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def open_memory(url: str | None) -> MemoryStore:
    """The memory store at ``url`` (default: SQLite in the user data dir)."""
    from ponder.memory import MemoryStore

    try:
        return MemoryStore.from_url(url)
    except ValueError as exc:
        raise CliError(f"bad memory URL: {exc}", EXIT_USAGE) from None


def backend_failure(exc: BackendError, base_url: str | None) -> CliError:
    """A backend error as the one line and exit code the user sees."""
    from ponder.backends import (
        AuthenticationError,
        ConnectionFailedError,
        ReasoningBudgetExhausted,
    )
    from ponder.backends.local import LocalModelError

    if isinstance(exc, LocalModelError):
        return CliError(str(exc), EXIT_USAGE)  # its own advice comes first
    if isinstance(exc, ConnectionFailedError):
        return CliError(f"cannot reach the model backend at {base_url}: {exc}", EXIT_UNREACHABLE)
    if isinstance(exc, AuthenticationError):
        return CliError(f"authentication failed: {exc} (check PONDER_API_KEY)", EXIT_AUTH)
    if isinstance(exc, ReasoningBudgetExhausted):  # a budget ran out: no answer (README)
        return CliError(f"the reasoning budget ran out: {exc}", EXIT_NO_ANSWER)
    return CliError(f"{type(exc).__name__}: {exc}", EXIT_BACKEND)


def load_json_schema(path: Path) -> dict[str, Any]:
    """The JSON Schema in ``path``, checked; a bad file is a usage error."""
    import jsonschema

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
    except OSError as exc:
        raise CliError(f"cannot read schema file {path}: {exc.strerror}", EXIT_USAGE) from None
    except json.JSONDecodeError as exc:
        raise CliError(f"schema file {path} is not JSON: {exc}", EXIT_USAGE) from None
    except jsonschema.SchemaError as exc:
        raise CliError(
            f"schema file {path} is not a valid JSON Schema: {exc.message}", EXIT_USAGE
        ) from None
    if not isinstance(schema, dict):
        raise CliError(f"schema file {path} must hold a JSON object", EXIT_USAGE)
    return schema


def write(stream: TextIO, text: str) -> None:
    """Write and flush at once (the text is streaming to a person)."""
    stream.write(text)
    stream.flush()


def dim(text: str, stream: TextIO) -> str:
    """``text`` dimmed when ``stream`` is a terminal."""
    return f"\x1b[2m{text}\x1b[0m" if stream.isatty() else text


def short(value: Any, limit: int = 120) -> str:
    """A value on one line of at most ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
