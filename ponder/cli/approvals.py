"""Asking a person about paused tool calls on the terminal (``ponder run``, ``ponder chat``).

On a terminal each pending call is shown with the model's stated intent and
answered ``y`` (run it), ``n`` (reject, with an optional message the model
reads) or ``e`` (edit the arguments as JSON; re-validated). Off a terminal
nothing is asked: the command prints the run id and exits with
:data:`~ponder.cli._common.EXIT_AWAITING` so a script can decide later with
``ponder runs resume RUN_ID``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TextIO

from ponder.cli._common import EXIT_AWAITING, short

if TYPE_CHECKING:
    from ponder.agents import Decision, PendingCall, RunResult
    from ponder.tools import ToolBox

__all__ = ["ask_decisions", "awaiting_exit", "can_ask"]


def can_ask() -> bool:
    """Whether a person is there to answer (stdin and stderr are terminals)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


async def _input(prompt: str) -> str:
    return await asyncio.to_thread(input, prompt)


async def ask_decisions(
    pending: list[PendingCall],
    toolbox: ToolBox,
    *,
    read: Callable[[str], Awaitable[str | None]] = _input,
    err: TextIO | None = None,
) -> dict[str, Decision] | None:
    """One decision per pending call, asked on the terminal (edits re-asked until valid).

    ``None`` when the input ends before every call is decided.
    """
    from ponder.agents import Approve, Edit, InvalidDecision, Reject
    from ponder.graphs.approval import validate_decisions

    out = err or sys.stderr
    decisions: dict[str, Decision] = {}
    for call in pending:
        if call.intent:
            print(f"The model says: {short(call.intent, 400)}", file=out)
        print(f"Tool call: {call.tool}({json.dumps(call.arguments, ensure_ascii=False)})", file=out)
        while True:
            line = await read("Run it? [y]es / [n]o / [e]dit: ")
            if line is None:
                return None
            answer = line.strip().lower()
            if answer in ("y", "yes"):
                decisions[call.call_id] = Approve()
                break
            if answer in ("n", "no"):
                message = ((await read("Message for the model (optional): ")) or "").strip()
                decisions[call.call_id] = Reject(message=message) if message else Reject()
                break
            if answer in ("e", "edit"):
                edited = _read_arguments(await read("New arguments (one line of JSON): "), out)
                if edited is None:
                    continue
                try:
                    validate_decisions(toolbox, [call], {call.call_id: Edit(arguments=edited)})
                except InvalidDecision as exc:
                    print(f"ponder: {exc}", file=out)
                    continue
                decisions[call.call_id] = Edit(arguments=edited)
                break
    return decisions


def _read_arguments(text: str | None, out: TextIO) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"ponder: not JSON: {exc}", file=out)
        return None
    if not isinstance(value, dict):
        print("ponder: the arguments must be a JSON object", file=out)
        return None
    return value


def awaiting_exit(result: RunResult) -> int:
    """Report a paused run off a terminal; the exit code for it."""
    names = ", ".join(call.tool for call in result.pending)
    print(
        f"ponder: the run is waiting for approval of {names}; run: {result.run_id}\n"
        f"decide with: ponder runs resume {result.run_id} (on a terminal, or with "
        "--approve-all / --reject MESSAGE)",
        file=sys.stderr,
    )
    return EXIT_AWAITING
