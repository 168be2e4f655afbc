"""Asking a person about paused tool calls on the terminal (``ponder run``, ``ponder chat``).

On a terminal each pending call is shown with the model's stated intent and
answered ``y`` (run it), ``n`` (reject, with an optional message the model
reads) or ``e`` (edit the arguments as JSON; re-validated; not for a call
that cannot be edited, such as the debugger's ``apply_patch``). Multi-line
text arguments (a diff, code) are shown as they are, below. Off a terminal
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
        print(_described(call), file=out)
        choices = "[y]es / [n]o / [e]dit" if call.editable else "[y]es / [n]o"
        while True:
            line = await read(f"Run it? {choices}: ")
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
            if answer in ("e", "edit") and not call.editable:
                print(f"ponder: the {call.tool} call cannot be edited: answer y or n", file=out)
                continue
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


def _described(call: PendingCall) -> str:
    """The call on one line; multi-line text arguments follow it, each under its name."""
    blocks = {k: v for k, v in call.arguments.items() if isinstance(v, str) and "\n" in v}
    inline = {k: ("<below>" if k in blocks else v) for k, v in call.arguments.items()}
    lines = [f"Tool call: {call.tool}({json.dumps(inline, ensure_ascii=False)})"]
    lines.extend(f"{name}:\n{text.rstrip()}" for name, text in blocks.items())
    return "\n".join(lines)


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


def awaiting_exit(result: RunResult, resume_options: str = "") -> int:
    """Report a paused run off a terminal; the exit code for it.

    ``resume_options`` are what ``ponder runs resume`` needs to rebuild the agent.
    """
    names = ", ".join(call.tool for call in result.pending)
    print(
        f"ponder: the run is waiting for approval of {names}; run: {result.run_id}\n"
        f"decide with: ponder runs resume {result.run_id}{resume_options} (on a terminal, or "
        "with --approve-all / --reject MESSAGE)",
        file=sys.stderr,
    )
    return EXIT_AWAITING
