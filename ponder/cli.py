"""The ``ponder`` command: ``ponder run`` and friends.

Every failure ends with one clear line on stderr and a non-zero exit code,
never a traceback. Exit codes: 0 answered; 1 the run ended without a valid
answer (budget spent, invalid JSON); 2 bad usage or configuration; 3 backend
unreachable; 4 authentication failed; 5 other backend error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ponder.agents import FinalEvent, RunResult
from ponder.agents.registry import AGENT_NAMES, StreamingAgent, build_agent
from ponder.backends import (
    AuthenticationError,
    BackendError,
    ChatBackend,
    ConnectionFailedError,
    make_backend,
)
from ponder.backends.factory import PROVIDER_NAMES
from ponder.graphs import AnswerDelta, Budgets, ReasoningEvent, ToolCallEvent, ToolResultEvent
from ponder.memory import MemoryStore

__all__ = ["main"]

EXIT_OK, EXIT_NO_ANSWER, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_AUTH, EXIT_BACKEND = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ponder",
        description="Agents for reasoning models of the DeepSeek-R1 class.",
        epilog="Exit codes: 0 answered; 1 no valid answer; 2 bad usage or configuration; "
        "3 backend unreachable; 4 authentication failed; 5 other backend error.",
    )
    commands = parser.add_subparsers(dest="subcommand", required=True)

    run = commands.add_parser("run", help="ask one question and print the answer")
    run.add_argument("question", metavar="QUESTION")
    add_backend_options(run)
    run.add_argument(
        "--agent", default="react", choices=AGENT_NAMES, help="which agent (default: react)"
    )
    run.add_argument(
        "--mode", default=None, help="math-tutor: solve|hints|check; debugger: fix|explain"
    )
    run.add_argument("--project", type=Path, default=None, help="debugger: the project folder")
    run.add_argument(
        "--command", default=None, help='debugger: the failing command, e.g. "pytest -x"'
    )
    run.add_argument(
        "--apply",
        action="store_true",
        help="debugger: apply the patch to the project once it passed in the sandbox",
    )
    add_memory_options(run)
    run.add_argument("--thread", default=None, help="continue this conversation")
    run.add_argument(
        "--schema", type=Path, default=None, help="JSON Schema file the answer must satisfy"
    )
    run.add_argument("--max-steps", type=int, default=None, help="model calls that may use tools")
    run.add_argument("--max-tokens", type=int, default=None, help="max tokens per model call")
    run.add_argument("--timeout", type=float, default=None, help="wall-time budget, seconds")
    run.add_argument(
        "--json", action="store_true", dest="as_json", help="print one JSON object on stdout"
    )
    run.add_argument("--show-reasoning", action="store_true", help="stream the reasoning to stderr")

    from ponder.chat import add_chat_arguments

    chat = commands.add_parser("chat", help="an interactive session on one thread")
    add_chat_arguments(chat)

    serve = commands.add_parser("serve", help="serve agents over HTTP (needs ponder[server])")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    add_backend_options(serve)
    add_memory_options(serve)
    serve.add_argument(
        "--agent",
        action="append",
        choices=("react", "math-tutor"),
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

    doctor = commands.add_parser(
        "doctor", help="probe the configured backend and print what it supports"
    )
    add_backend_options(doctor)

    index = commands.add_parser("index", help="index a folder for the local search tool")
    index.add_argument("folder", type=Path)
    index.add_argument("--db", default=None, help="index file (default: the user data dir)")
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``ponder`` script."""
    args = _parser().parse_args(argv)
    try:
        if args.subcommand == "run":
            code = asyncio.run(_run(args))
        elif args.subcommand == "chat":
            from ponder.chat import chat_main

            code = asyncio.run(chat_main(args))
        elif args.subcommand == "serve":
            code = _serve(args)
        elif args.subcommand == "doctor":
            from ponder.doctor import doctor_main

            code = doctor_main(
                provider=args.provider,
                base_url=args.base_url,
                model=args.model,
                api_key=args.api_key or os.environ.get("PONDER_API_KEY"),
            )
        else:
            code = _index(args)
    except CliError as exc:
        print(f"ponder: {exc}", file=sys.stderr)
        code = exc.code
    except KeyboardInterrupt:
        print("ponder: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    sys.exit(code)


# ------------------------------------------------------------------- run


async def _run(args: argparse.Namespace) -> int:
    schema = _load_schema(args.schema) if args.schema else None
    budgets = _budgets(args)
    backend = _make_backend(args)
    memory = _open_memory(args.memory)
    try:
        agent = _build_agent(args, backend, memory, budgets, schema)
        try:
            result = await _stream(agent, args)
        finally:
            await agent.aclose()
    except BackendError as exc:
        raise _backend_failure(exc, args.base_url or getattr(backend, "base_url", None)) from None
    finally:
        await backend.aclose()
        await memory.aclose()
    return _report(result, args)


def _make_backend(args: argparse.Namespace) -> ChatBackend:
    """The configured backend; with none configured, the in-process local model.

    The local model needs the ``[local]`` extra; it is ``PONDER_LOCAL_MODEL``
    or the default R1 distill, downloaded on first use.
    """
    api_key = args.api_key or os.environ.get("PONDER_API_KEY")
    try:
        return make_backend(
            provider=args.provider, base_url=args.base_url, model=args.model, api_key=api_key
        )
    except ValueError as exc:
        if args.base_url or api_key or args.provider != "auto":
            raise CliError(str(exc), EXIT_USAGE) from None
    from ponder.backends.local import LocalModelError, default_local_backend

    try:
        backend = default_local_backend()
    except LocalModelError:
        raise CliError(NO_BACKEND_HINT, EXIT_USAGE) from None
    if sys.stderr.isatty():
        print("ponder: no backend configured; using the in-process local model", file=sys.stderr)
    return backend


def _build_agent(
    args: argparse.Namespace,
    backend: ChatBackend,
    memory: MemoryStore,
    budgets: Budgets,
    schema: dict[str, Any] | None,
) -> StreamingAgent:
    options: dict[str, Any] = {
        "backend": backend,
        "memory": memory,
        "budgets": budgets,
        "response_schema": schema,
    }
    if args.mode is not None:
        options["mode"] = args.mode
    debugger_only = {"project": args.project, "command": args.command, "apply": args.apply}
    if args.agent == "debugger":
        options.update(debugger_only)
    elif any(debugger_only.values()):
        raise CliError(
            "--project, --command and --apply are options of --agent debugger", EXIT_USAGE
        )
    try:
        return build_agent(args.agent, **options)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _budgets(args: argparse.Namespace) -> Budgets:
    defaults = Budgets()
    try:
        return Budgets(
            max_steps=args.max_steps if args.max_steps is not None else defaults.max_steps,
            max_tokens_per_call=getattr(args, "max_tokens", None),
            wall_time_s=args.timeout if args.timeout is not None else defaults.wall_time_s,
        )
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _load_schema(path: Path) -> dict[str, Any]:
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


def _open_memory(url: str | None) -> MemoryStore:
    try:
        return MemoryStore.from_url(url)
    except ValueError as exc:
        raise CliError(f"bad memory URL: {exc}", EXIT_USAGE) from None


def _streams_answer(args: argparse.Namespace) -> bool:
    """Whether the answer text streams to stdout (plain text answers only)."""
    return not args.as_json and args.schema is None and args.agent == "react"


async def _stream(agent: StreamingAgent, args: argparse.Namespace) -> RunResult:
    out, err = sys.stdout, sys.stderr
    live_answer = _streams_answer(args)
    live_tools = err.isatty()
    in_reasoning = False
    async for event in agent.astream(args.question, thread_id=args.thread):
        if isinstance(event, ReasoningEvent) and args.show_reasoning:
            _write(err, _dim(event.text, err))
            in_reasoning = True
            continue
        if in_reasoning and not isinstance(event, ReasoningEvent):
            _write(err, "\n")
            in_reasoning = False
        if isinstance(event, AnswerDelta) and live_answer:
            _write(out, event.text)
        elif isinstance(event, ToolCallEvent) and live_tools:
            _write(err, _dim(f"→ {event.name}({_short(event.arguments)})\n", err))
        elif isinstance(event, ToolResultEvent) and live_tools:
            mark = "✓" if event.ok else "✗"
            _write(err, _dim(f"  {mark} {_short(event.output)}\n", err))
        elif isinstance(event, FinalEvent):
            return event.result
    raise RuntimeError("the run ended without a result")


def _report(result: RunResult, args: argparse.Namespace) -> int:
    if args.as_json:
        print(json.dumps(result.to_json_dict(), ensure_ascii=False))
    else:
        if _streams_answer(args):
            if result.answer_text:
                print()  # the answer streamed already; end its line
        elif args.schema is not None and result.answer is not None:
            print(json.dumps(result.to_json_dict()["answer"], ensure_ascii=False, indent=2))
        elif result.answer_text:
            print(result.answer_text)
        print(f"thread: {result.thread_id}", file=sys.stderr)
    if result.ok:
        return EXIT_OK
    reason = {
        "invalid_json": "the final answer did not match the schema after retries",
        "wall_time": "the wall-time budget ran out",
    }.get(result.outcome, f"the run's budget ran out ({result.outcome.replace('_', ' ')})")
    print(f"ponder: {reason}", file=sys.stderr)
    return EXIT_NO_ANSWER


def _backend_failure(exc: BackendError, base_url: str | None) -> CliError:
    from ponder.backends.local import LocalModelError

    if isinstance(exc, LocalModelError):
        return CliError(f"{NO_BACKEND_HINT} (the local model is unavailable: {exc})", EXIT_USAGE)
    if isinstance(exc, ConnectionFailedError):
        return CliError(f"cannot reach the model backend at {base_url}: {exc}", EXIT_UNREACHABLE)
    if isinstance(exc, AuthenticationError):
        return CliError(f"authentication failed: {exc} (check PONDER_API_KEY)", EXIT_AUTH)
    return CliError(f"{type(exc).__name__}: {exc}", EXIT_BACKEND)


# ----------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    """Serve the named agents; bearer tokens come from env PONDER_SERVER_TOKENS."""
    try:
        from ponder.server import create_app, serve
    except ImportError:
        raise CliError(
            "ponder serve needs the server extra: pip install 'ponder[server]'", EXIT_USAGE
        ) from None
    backend = _make_backend(args)
    memory = _open_memory(args.memory)
    budgets = _budgets(args)

    def factory(name: str) -> Callable[[], StreamingAgent]:
        return lambda: build_agent(name, backend=backend, memory=memory, budgets=budgets)

    tokens = [t for t in os.environ.get("PONDER_SERVER_TOKENS", "").split(",") if t.strip()]
    app = create_app(
        {name: factory(name) for name in args.agent or ("react", "math-tutor")},
        memory=memory,
        api_keys=tokens or None,
        allow_reasoning=args.allow_reasoning,
    )
    serve(args.host, args.port, app)
    return EXIT_OK


# ----------------------------------------------------------------- index


def _index(args: argparse.Namespace) -> int:
    from ponder.tools.search import index_command

    if not args.folder.is_dir():
        raise CliError(f"not a folder: {args.folder}", EXIT_USAGE)
    stats = index_command(str(args.folder), args.db)
    print(
        f"indexed {stats.files_indexed} files ({stats.files_unchanged} unchanged, "
        f"{stats.files_removed} removed), {stats.chunks} chunks in {stats.seconds:.1f} s"
    )
    return EXIT_OK


# ------------------------------------------------------------- rendering


def _write(stream: TextIO, text: str) -> None:
    stream.write(text)
    stream.flush()


def _dim(text: str, stream: TextIO) -> str:
    return f"\x1b[2m{text}\x1b[0m" if stream.isatty() else text


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


if __name__ == "__main__":
    main()
