"""``ponder runs``: list runs, resume a paused or abandoned one.

``ponder runs list`` shows the runs in the memory database (newest first);
``ponder runs resume RUN_ID`` continues one with the react agent (or the
debugger's, ``--agent debugger --project DIR --command CMD`` as it started):
a run waiting for approval asks on a terminal (or takes ``--approve-all`` /
``--reject MESSAGE``); a run whose process died goes on from its last step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.cli._common import (
    EXIT_AWAITING,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_backend_options,
    add_memory_options,
    backend_failure,
    budgets_from,
    make_backend_from,
    open_memory,
)

if TYPE_CHECKING:
    from ponder.agents import Agent
    from ponder.backends import ChatBackend
    from ponder.memory import MemoryStore

__all__ = ["add_arguments", "main"]


def add_arguments(runs: argparse.ArgumentParser) -> None:
    """The options of ``ponder runs``."""
    actions = runs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the runs in the memory database, newest first")
    add_memory_options(listing)
    listing.add_argument(
        "--status",
        default=None,
        help="only runs in this state: running, awaiting_approval, abandoned, done, failed, "
        "cancelled",
    )
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", dest="as_json", help="JSON lines")
    resume = actions.add_parser("resume", help="continue a paused or abandoned run")
    resume.add_argument("run_id", metavar="RUN_ID")
    add_backend_options(resume)
    add_memory_options(resume)
    resume.add_argument(
        "--agent", default="react", choices=("react", "debugger"), help="the run's agent"
    )
    resume.add_argument("--project", type=Path, default=None, help="debugger: the run's project")
    resume.add_argument("--command", default=None, help="debugger: the run's command")
    resume.add_argument("--approve", action="append", default=[], metavar="TOOL")
    decide = resume.add_mutually_exclusive_group()
    decide.add_argument("--approve-all", action="store_true", help="approve every pending call")
    decide.add_argument("--reject", metavar="MESSAGE", help="reject every pending call")
    resume.add_argument("--json", action="store_true", dest="as_json")
    resume.add_argument("--show-reasoning", action="store_true")
    resume.add_argument("--max-steps", type=int, default=None)
    resume.add_argument("--max-tokens", type=int, default=None)
    resume.add_argument("--timeout", type=float, default=None)


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_list(args) if args.action == "list" else _resume(args))


async def _list(args: argparse.Namespace) -> int:
    from ponder.memory import RunLedger

    memory = open_memory(args.memory)
    try:
        runs = await RunLedger.for_store(memory).list(status=args.status, limit=args.limit)
    finally:
        await memory.aclose()
    for run in runs:
        status = "abandoned" if run.abandoned else run.status
        if args.as_json:
            row = {**run.model_dump(mode="json"), "status": status}
            print(json.dumps(row, ensure_ascii=False))
        else:
            question = " ".join(run.question.split())[:60]
            print(f"{run.run_id}  {status:<17} {run.created_at:%Y-%m-%d %H:%M}  {question}")
    return EXIT_OK


async def _resume(args: argparse.Namespace) -> int:
    from ponder.agents import (
        Approve,
        Decision,
        InvalidDecision,
        Reject,
        RunNotClaimable,
        RunNotFound,
    )
    from ponder.backends import BackendError
    from ponder.cli.approvals import ask_decisions, can_ask
    from ponder.cli.run import _report, _stream, settle

    backend = make_backend_from(args)
    memory = open_memory(args.memory)
    args.schema, args.question = None, ""
    try:
        agent = _agent_for(args, backend, memory)
        try:
            decisions: dict[str, Decision] | None = None
            pending = await agent.pending(args.run_id)
            if pending:
                if args.approve_all or args.reject is not None:
                    decision = Approve() if args.approve_all else Reject(message=args.reject)
                    decisions = {call.call_id: decision for call in pending}
                elif can_ask():
                    decisions = await ask_decisions(pending, agent.toolbox)
                else:
                    print(
                        f"ponder: run {args.run_id} waits for approval; pass --approve-all "
                        "or --reject MESSAGE, or run this on a terminal",
                        file=sys.stderr,
                    )
                    return EXIT_AWAITING
            result = await _stream(agent.astream_resume(args.run_id, decisions), args)
            result = await settle(agent, result, args)
        except (RunNotFound, RunNotClaimable, InvalidDecision) as exc:
            raise CliError(str(exc).strip("'\""), EXIT_USAGE) from None
        finally:
            await agent.aclose()
    except BackendError as exc:
        raise backend_failure(exc, args.base_url) from None
    finally:
        await backend.aclose()
        await memory.aclose()
    return _report(result, args)


def _agent_for(args: argparse.Namespace, backend: ChatBackend, memory: MemoryStore) -> Agent:
    """The agent that continues the run, built as ``ponder run`` built it."""
    from ponder.agents import Agent
    from ponder.agents.registry import build_agent, build_react_agent

    approvals = dict.fromkeys(args.approve, "always")
    budgets = budgets_from(args)
    if args.agent == "react":
        if args.project is not None or args.command is not None:
            raise CliError("--project and --command are options of --agent debugger", EXIT_USAGE)
        return build_react_agent(
            backend=backend, memory=memory, budgets=budgets, approvals=approvals
        )
    if args.project is None or not args.command:
        raise CliError("--agent debugger needs the run's --project and --command", EXIT_USAGE)
    try:
        agent = build_agent(
            "debugger",
            backend=backend,
            memory=memory,
            budgets=budgets,
            project=args.project,
            command=args.command,
            approvals=approvals,
        )
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    assert isinstance(agent, Agent)  # the fix mode's DebuggerAgent
    return agent
