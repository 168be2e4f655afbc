"""``ponder run``: ask one question, stream the answer to stdout, exit with a code."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ponder.cli._common import (
    AGENT_NAMES,
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_TRUNCATED,
    EXIT_USAGE,
    CliError,
    add_backend_options,
    add_memory_options,
    add_sandbox_options,
    announce_runner,
    backend_failure,
    budgets_from,
    code_runner_from,
    dim,
    load_json_schema,
    make_backend_from,
    mcp_servers_from,
    open_memory,
    short,
    write,
)
from ponder.cli._telemetry import add_telemetry_options, telemetry_from

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ponder.agents import AgentEvent, RunResult, StreamingAgent
    from ponder.agents.builtin_tools import BuiltinTools
    from ponder.backends import ChatBackend
    from ponder.cli.early_request import EarlyBackend
    from ponder.graphs import Budgets
    from ponder.memory import MemoryStore
    from ponder.tools.code import RunnerPlan

__all__ = ["add_arguments", "main"]


def add_arguments(run: argparse.ArgumentParser) -> None:
    """The options of ``ponder run``."""
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
    add_sandbox_options(run)
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
    run.add_argument(
        "--approve",
        action="append",
        default=[],
        metavar="TOOL",
        help="ask before each call of this tool (repeatable; the debugger's is apply_patch, "
        "with --apply); off a terminal the run pauses and the command exits 7 with its run id",
    )
    add_telemetry_options(run, trace_file=True)
    run.add_argument(
        "--mcp",
        action="append",
        default=[],
        metavar="SERVER",
        help='tools from an MCP server: a command line ("npx -y @modelcontextprotocol/'
        'server-filesystem /data") or a URL, optionally NAME=...; repeatable (needs ponder[mcp])',
    )
    run.add_argument(
        "--mcp-config",
        type=Path,
        default=None,
        metavar="FILE",
        help='MCP servers from a JSON file: {"mcpServers": {"name": {"command": ...}}}',
    )


def main(args: argparse.Namespace) -> int:
    """Run the question; the exit code says how it ended."""
    import asyncio

    with telemetry_from(args):
        return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    import asyncio

    from ponder.backends import BackendError

    schema = load_json_schema(args.schema) if args.schema else None
    mcp_servers = mcp_servers_from(args)
    budgets = budgets_from(args)
    backend = make_backend_from(args)
    runner = code_runner_from(args, announce=False)  # said once the model answers
    early = _start_early_request(args, backend, runner, budgets, schema, mcp_servers)
    model: ChatBackend = backend if early is None else early[0]
    tools = None if early is None else early[1]
    try:
        await asyncio.to_thread(_import_agent_stack)  # meanwhile the early request goes out
        memory = open_memory(args.memory)
    except BaseException:
        await model.aclose()  # an EarlyBackend closes its request and the backend
        raise
    try:
        agent = _build_agent(args, model, memory, budgets, schema, mcp_servers, runner, tools)
        try:
            result = await _stream(
                agent.astream(args.question, thread_id=args.thread), args, runner
            )
            result = await settle(agent, result, args)
        finally:
            await agent.aclose()
    except ConnectionError as exc:  # an MCP server that cannot be started or reached
        raise CliError(str(exc), EXIT_USAGE) from None
    except BackendError as exc:
        raise backend_failure(exc, args.base_url or getattr(backend, "base_url", None)) from None
    finally:
        await model.aclose()  # an EarlyBackend closes the backend too
        await memory.aclose()
    return _report(result, args)


def _import_agent_stack() -> None:
    """Import LangGraph, SQLAlchemy and the agents (about a second of CPU)."""
    import ponder.agents.registry
    import ponder.memory  # noqa: F401


def _start_early_request(
    args: argparse.Namespace,
    backend: ChatBackend,
    runner: RunnerPlan,
    budgets: Budgets,
    schema: dict[str, Any] | None,
    mcp_servers: list[Any],
) -> tuple[EarlyBackend, BuiltinTools] | None:
    """For a plain react or math-tutor run on a model server: its first request, streaming.

    The request is built from what the agent will use (its system prompt and
    sampling defaults, the built-in tools given to it): see
    :mod:`ponder.cli.early_request`. The tutor's hints mode starts with the
    same solver request; its check mode asks no model first.
    """
    from ponder.backends import OllamaNativeBackend, OpenAICompatibleBackend

    tutor_solves = args.agent == "math-tutor" and args.mode in (None, "solve", "hints")
    plain = (
        (args.agent == "react" or tutor_solves)
        and args.thread is None
        and schema is None
        and not mcp_servers
        and not args.otel
        and args.trace is None
        and budgets.max_steps >= 1
        and args.question.strip()
    )
    if not plain or not isinstance(backend, OpenAICompatibleBackend | OllamaNativeBackend):
        return None
    from ponder.agents import builtin_tools as builtin
    from ponder.agents import prompts
    from ponder.backends.types import ChatRequest, SystemMessage, UserMessage
    from ponder.cli.early_request import EarlyBackend, EarlyRequest
    from ponder.tools import ToolBox

    if tutor_solves:
        tools, system = builtin.math_tutor_tools(runner), prompts.MATH_SYSTEM_PROMPT
    else:
        tools, system = builtin.builtin_tools(runner), prompts.DEFAULT_SYSTEM_PROMPT
    request = ChatRequest(
        messages=(SystemMessage(content=system), UserMessage(content=args.question)),
        tools=tuple(ToolBox(tools.tools).specs(strict=False)),
        temperature=prompts.DEFAULT_TEMPERATURE,
        top_p=prompts.DEFAULT_TOP_P,
        max_tokens=budgets.max_tokens_per_call,
    )
    return EarlyBackend(backend, EarlyRequest(backend, request)), tools


def _build_agent(
    args: argparse.Namespace,
    backend: ChatBackend,
    memory: MemoryStore,
    budgets: Budgets,
    schema: dict[str, Any] | None,
    mcp_servers: list[Any],
    runner: RunnerPlan,
    tools: BuiltinTools | None = None,
) -> StreamingAgent:
    from ponder.agents.registry import build_agent

    options: dict[str, Any] = {
        "backend": backend,
        "memory": memory,
        "budgets": budgets,
        "response_schema": schema,
        "code_runner": runner,
    }
    if tools is not None:  # built for the early request: the agent gets these very tools
        options["tools"] = tools
    if args.mode is not None:
        options["mode"] = args.mode
    if args.approve:
        if args.agent not in ("react", "debugger"):
            raise CliError("--approve is an option of --agent react and debugger", EXIT_USAGE)
        if args.agent == "debugger" and not args.apply:
            raise CliError(
                "--approve apply_patch needs --apply (else nothing is applied)", EXIT_USAGE
            )
        options["approvals"] = dict.fromkeys(args.approve, "always")
    if mcp_servers:
        if args.agent != "react":
            raise CliError("--mcp and --mcp-config work with --agent react", EXIT_USAGE)
        options["mcp_servers"] = mcp_servers
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


def _resume_options(args: argparse.Namespace) -> str:
    """What ``ponder runs resume`` needs besides the run id to rebuild this agent."""
    if args.agent != "debugger":
        return ""
    project = shlex.quote(str(Path(args.project).resolve()))
    return f" --agent debugger --project {project} --command {shlex.quote(args.command)}"


def _streams_answer(args: argparse.Namespace) -> bool:
    """Whether the answer text streams to stdout (plain text answers only)."""
    return not args.as_json and args.schema is None and args.agent == "react"


async def settle(agent: StreamingAgent, result: RunResult, args: argparse.Namespace) -> RunResult:
    """Ask about paused calls on a terminal and continue, until the run does not pause."""
    from ponder.agents import Agent
    from ponder.cli.approvals import ask_decisions, can_ask

    while result.outcome == "awaiting_approval" and isinstance(agent, Agent) and can_ask():
        decisions = await ask_decisions(result.pending, agent.toolbox)
        if decisions is None:
            break
        result = await _stream(agent.astream_resume(result.run_id, decisions), args)
    return result


async def _stream(
    events: AsyncIterator[AgentEvent], args: argparse.Namespace, runner: RunnerPlan | None = None
) -> RunResult:
    from ponder.agents import FinalEvent
    from ponder.graphs import (
        AnswerDelta,
        ErrorEvent,
        ReasoningEvent,
        RetryEvent,
        ToolCallEvent,
        ToolResultEvent,
    )

    out, err = sys.stdout, sys.stderr
    live_answer = _streams_answer(args)
    live_tools = err.isatty()
    in_reasoning = False
    reasoning_step = 0
    announced = runner is None
    async for event in events:
        if not announced and not isinstance(event, ErrorEvent | RetryEvent):
            announced = True  # once the model answers, so that a failure stays one line
            assert runner is not None
            announce_runner(runner, args)
        if isinstance(event, ReasoningEvent) and args.show_reasoning:
            if in_reasoning and event.step != reasoning_step:
                write(err, "\n\n")  # another model call's thought: not glued to the last
            reasoning_step = event.step
            write(err, dim(event.text, err))
            in_reasoning = True
            continue
        if in_reasoning and not isinstance(event, ReasoningEvent):
            write(err, "\n")
            in_reasoning = False
        if isinstance(event, AnswerDelta) and live_answer:
            write(out, event.text)
        elif isinstance(event, ToolCallEvent) and live_tools:
            write(err, dim(f"→ {event.name}({short(event.arguments)})\n", err))
        elif isinstance(event, ToolResultEvent) and live_tools:
            mark = "✓" if event.ok else "✗"
            write(err, dim(f"  {mark} {short(event.output)}\n", err))
        elif isinstance(event, FinalEvent):
            return event.result
    raise RuntimeError("the run ended without a result")


def _report(result: RunResult, args: argparse.Namespace) -> int:
    if result.outcome == "awaiting_approval":
        from ponder.cli.approvals import awaiting_exit

        if args.as_json:
            print(json.dumps(result.to_json_dict(), ensure_ascii=False))
        return awaiting_exit(result, _resume_options(args))
    if args.as_json:
        print(json.dumps(result.to_json_dict(), ensure_ascii=False))
    else:
        if _streams_answer(args):
            if result.answer_text:
                print()  # the answer streamed already; end its line
        elif args.schema is not None:  # stdout holds valid JSON or nothing
            if result.ok and result.answer is not None:
                print(json.dumps(result.to_json_dict()["answer"], ensure_ascii=False, indent=2))
        elif result.answer_text:
            print(result.answer_text)
        print(f"thread: {result.thread_id}", file=sys.stderr)
    if result.ok:
        return EXIT_OK
    if result.outcome == "truncated":
        print(
            "ponder: the answer was cut off by the token limit (raise --max-tokens)",
            file=sys.stderr,
        )
        return EXIT_TRUNCATED
    reason = {
        "invalid_json": "the final answer did not match the schema after retries",
        "wall_time": "the wall-time budget ran out",
    }.get(result.outcome, f"the run's budget ran out ({result.outcome.replace('_', ' ')})")
    print(f"ponder: {reason}", file=sys.stderr)
    return EXIT_NO_ANSWER
