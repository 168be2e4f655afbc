"""The ``ponder chat`` session: an interactive terminal session on one thread.

The answer streams; the reasoning shows live in a dimmed panel that collapses
to a one-line summary as soon as the answer or a tool call starts (``/reasoning``
shows it again in full); tool calls and their results appear as they happen.
Ctrl-C cancels the running answer — the agent saves nothing for it — and the
session goes on; Ctrl-C at the prompt, Ctrl-D or ``/quit`` ends it. Final
answers are remembered, so ``--thread ID`` resumes a conversation after a
restart. Reasoning is shown, never stored.

POSIX terminals: the prompt is read by the event loop and Ctrl-C is a loop
signal handler, so a run can be cancelled without losing the session.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import uuid
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from ponder.agents import FinalEvent, RunResult, StreamingAgent
from ponder.backends import BackendError, ChatBackend, ConnectionFailedError
from ponder.cli._common import code_runner_from, make_backend_from, short
from ponder.graphs import (
    AnswerDelta,
    Budgets,
    ErrorEvent,
    ReasoningEvent,
    RetryEvent,
    ToolCallEvent,
    ToolResultEvent,
    UsageEvent,
)
from ponder.memory import CancelledAfterSave, MemoryStore
from ponder.memory.models import THREAD_ID_MAX

__all__ = ["chat_main"]

EXIT_OK, EXIT_USAGE = 0, 2

HELP = """\
/help        this list
/reasoning   the last answer's reasoning, in full
/thread      this conversation's id (resume it with --thread ID)
/quit        end the session (so do Ctrl-D and Ctrl-C at the prompt)
Ctrl-C while an answer streams cancels it; nothing of it is saved and the thread goes on."""

_REFRESH_PER_S = 12
_PANEL_TAIL_CHARS = 4_000
_RESUME_SHOWN = 3


async def chat_main(args: argparse.Namespace) -> int:
    """Run the session until the user leaves; 0, or 2 for bad options or configuration."""
    from ponder.agents.registry import build_agent

    try:
        budgets = Budgets() if args.max_steps is None else Budgets(max_steps=args.max_steps)
        thread_id = _thread_id(args.thread)
    except ValueError as exc:
        return _fail(str(exc))
    backend = make_backend_from(args)  # the local model too; a CliError is one line
    try:
        memory = MemoryStore.from_url(args.memory)
    except ValueError as exc:
        await backend.aclose()
        return _fail(f"bad memory URL: {exc}")
    console = Console(highlight=False)
    try:
        try:
            options: dict[str, Any] = {
                "backend": backend,
                "memory": memory,
                "budgets": budgets,
                "code_runner": code_runner_from(args),
            }
            if getattr(args, "approve", None):
                if args.agent != "react":
                    return _fail("--approve is an option of --agent react")
                options["approvals"] = dict.fromkeys(args.approve, "always")
            agent = build_agent(args.agent, **options)
        except ValueError as exc:
            return _fail(str(exc))
        try:
            # other agents answer their inner steps in JSON: show only their final answer
            stream_answer = args.agent == "react"
            await _Session(console, agent, memory, thread_id, backend, stream_answer).run()
        finally:
            await agent.aclose()
    finally:
        await backend.aclose()
        await memory.aclose()
    return EXIT_OK


def _fail(message: str) -> int:
    print(f"ponder: {message}", file=sys.stderr)
    return EXIT_USAGE


def _thread_id(given: str | None) -> str:
    if given is None:
        return uuid.uuid4().hex
    if not given.strip() or len(given) > THREAD_ID_MAX or "\x00" in given:
        raise ValueError(f"--thread must be 1 to {THREAD_ID_MAX} characters")
    return given


# --------------------------------------------------------------- session


class _Session:
    """The prompt loop: questions go to the agent, slash commands are handled here."""

    def __init__(
        self,
        console: Console,
        agent: StreamingAgent,
        memory: MemoryStore,
        thread_id: str,
        backend: ChatBackend,
        stream_answer: bool,
    ) -> None:
        self._console = console
        self._agent = agent
        self._backend = backend
        self._stream_answer = stream_answer
        self._memory = memory
        self._thread_id = thread_id
        self._lines = _LineReader(sys.stdin.fileno())
        self._turn: asyncio.Task[None] | None = None
        self._prompt_waiter: asyncio.Future[Any] | None = None
        self._last_reasoning: list[str] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._interrupt)
        try:
            await self._greet()
            while (line := await self._prompt()) is not None:
                text = line.strip()
                if text.startswith("/"):
                    if not self._command(text):
                        break
                elif text:
                    await self._ask(text)
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            self._lines.close()
        self._console.print(
            f"thread {self._thread_id} saved; resume with --thread {self._thread_id}",
            style="dim",
            markup=False,
        )

    def _interrupt(self) -> None:
        """Ctrl-C: cancel the running answer, or leave when at the prompt."""
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()
        elif self._prompt_waiter is not None and not self._prompt_waiter.done():
            self._prompt_waiter.set_result(None)

    async def _greet(self) -> None:
        model = self._backend.model
        self._console.print(Text(f"ponder chat · {model}", style="bold"))
        self._console.print(Text(f"thread: {self._thread_id}"))
        earlier = await self._memory.turns(self._thread_id)
        if earlier:
            self._console.print(
                Text(f"resumed: {len(earlier)} earlier turn(s) in this thread", style="dim")
            )
            for turn in earlier[-_RESUME_SHOWN:]:
                self._console.print(Text(f"  you: {short(turn.question, 100)}", style="dim"))
                self._console.print(Text(f"  ponder: {short(turn.answer, 100)}", style="dim"))
        self._console.print(
            Text("/help for commands · Ctrl-C cancels an answer · Ctrl-D exits", style="dim")
        )

    async def _prompt(self) -> str | None:
        """The next line typed, or ``None`` for Ctrl-D / Ctrl-C."""
        self._console.print()
        self._console.print(Text("› ", style="bold green"), end="")
        interrupted: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        reading: asyncio.Future[Any] = asyncio.ensure_future(self._lines.readline())
        self._prompt_waiter = interrupted
        try:
            await asyncio.wait({reading, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._prompt_waiter = None
            if not reading.done():
                reading.cancel()
        line: str | None = reading.result() if reading.done() and not reading.cancelled() else None
        if line is None:
            self._console.print()
        return line

    def _command(self, text: str) -> bool:
        """Handle a slash command; ``False`` ends the session."""
        name = text.split()[0].lower()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/help":
            self._console.print(Text(HELP))
        elif name == "/thread":
            self._console.print(Text(f"thread: {self._thread_id}"))
        elif name == "/reasoning":
            self._show_reasoning()
        else:
            self._console.print(Text(f"unknown command {name}; /help lists them", style="yellow"))
        return True

    def _show_reasoning(self) -> None:
        if not any(self._last_reasoning):
            self._console.print(Text("no reasoning to show yet", style="dim"))
            return
        steps = [text for text in self._last_reasoning if text]
        for number, text in enumerate(steps, 1):
            title = "reasoning" if len(steps) == 1 else f"reasoning, step {number}"
            self._console.print(
                Panel(Text(text, style="dim"), title=title, title_align="left", border_style="dim")
            )

    async def _ask(self, question: str) -> None:
        view = _TurnView(self._console, stream_answer=self._stream_answer)
        self._turn = turn = asyncio.create_task(self._stream(question, view))
        try:
            await asyncio.wait({turn})
        finally:
            if not turn.done():  # the session itself is being cancelled
                turn.cancel()
            self._turn = None
            view.close()
            self._last_reasoning = view.reasoning
        if turn.cancelled():
            self._console.print()
            self._console.print(Text(_cancelled_note(turn), "yellow"))
        elif isinstance(error := turn.exception(), BackendError):
            self._console.print()
            self._console.print(Text(_describe(error, self._backend), style="red"))
        elif error is not None:
            raise error

    async def _stream(self, question: str, view: _TurnView) -> None:
        events: Any = self._agent.astream(question, thread_id=self._thread_id)
        while True:
            result = None
            async for event in events:
                if isinstance(event, FinalEvent):
                    result = event.result
                else:
                    view.show(event)
            if result is None or result.outcome != "awaiting_approval":
                if result is not None:
                    view.finish(result)
                return
            decisions = await self._decide(result, view)
            if decisions is None:
                view.finish(result)
                return
            events = self._agent.astream_resume(result.run_id, decisions)  # type: ignore[attr-defined]

    async def _decide(self, result: RunResult, view: _TurnView) -> dict[str, Any] | None:
        """Ask y/n/edit for each paused call (the run waits in the database meanwhile)."""
        from ponder.cli.approvals import ask_decisions

        view.close()

        async def read(prompt: str) -> str | None:
            self._console.print(Text(prompt, style="bold yellow"), end="")
            return await self._lines.readline()

        toolbox = getattr(self._agent, "toolbox", None)
        if toolbox is None:
            return None
        return await ask_decisions(result.pending, toolbox, read=read, err=sys.stdout)


def _describe(error: BackendError, backend: ChatBackend) -> str:
    if isinstance(error, ConnectionFailedError):
        return f"cannot reach the model backend at {getattr(backend, 'base_url', '?')}: {error}"
    return f"{type(error).__name__}: {error}"


# --------------------------------------------------------------- one run


class _TurnView:
    """Renders one run's events: live reasoning panel, tool lines, streamed answer."""

    def __init__(self, console: Console, *, stream_answer: bool) -> None:
        self._console = console
        self._stream_answer = stream_answer
        self._live: Live | None = None
        self._thinking: list[str] = []
        self._thinking_since = 0.0
        self._at_line_start = True
        self._started = time.monotonic()
        self.reasoning: list[str] = []
        """Each model call's reasoning, for ``/reasoning`` (this process only)."""

    def show(self, event: Any) -> None:
        if isinstance(event, ReasoningEvent):
            self._think(event.text)
            return
        self._collapse()
        if isinstance(event, AnswerDelta) and self._stream_answer:
            self._console.out(event.text, end="", highlight=False)
            self._at_line_start = event.text.endswith("\n")
        elif isinstance(event, ToolCallEvent):
            self._line(
                Text.assemble(
                    ("→ ", "cyan"), (event.name, "bold cyan"), " ", short(event.arguments)
                )
            )
        elif isinstance(event, ToolResultEvent):
            mark, style = ("✓", "green") if event.ok else ("✗", "red")
            self._line(Text.assemble(("  " + mark + " ", style), (short(event.output), "dim")))
        elif isinstance(event, RetryEvent):
            self._line(Text(f"retrying in {event.delay_s:.1f} s: {event.reason}", style="yellow"))
        elif isinstance(event, ErrorEvent | UsageEvent):
            pass  # errors are reported by the session; usage in the footer

    def finish(self, result: RunResult) -> None:
        """End the answer and print a one-line footer."""
        self._collapse()
        if isinstance(result.answer, str) and not self._stream_answer:
            self._line(Text(result.answer))
        elif not isinstance(result.answer, str) and result.answer is not None:
            text = json.dumps(result.to_json_dict()["answer"], ensure_ascii=False, indent=2)
            self._line(Text(text))
        if not self._at_line_start:
            self._console.out("")
            self._at_line_start = True
        tools = len(result.tool_calls)
        parts = [
            result.outcome.replace("_", " "),
            f"{result.steps} step(s)",
            f"{tools} tool call(s)",
            f"{result.usage.total_tokens} tokens",
            f"{time.monotonic() - self._started:.1f} s",
        ]
        self._console.print(Text(" · ".join(parts), style="dim"))
        if not result.ok:
            self._console.print(
                Text("no complete answer (a budget ran out); this turn was not saved", "yellow")
            )

    def close(self) -> None:
        """Put away the live panel (end of run, error or cancellation)."""
        self._collapse()

    def _think(self, text: str) -> None:
        self._thinking.append(text)
        if self._live is not None:
            return
        if not self._at_line_start:
            self._console.out("")
            self._at_line_start = True
        self._thinking_since = time.monotonic()
        self._live = Live(
            console=self._console,
            get_renderable=self._panel,
            refresh_per_second=_REFRESH_PER_S,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def _panel(self) -> Panel:
        tail = "".join(self._thinking)[-_PANEL_TAIL_CHARS:]
        width = max(20, self._console.width - 4)
        lines = Text(tail, style="dim").wrap(self._console, width)
        keep = max(3, self._console.height - 8)
        body = Text("\n").join(lines[-keep:]) if len(lines) else Text("…", style="dim")
        elapsed = time.monotonic() - self._thinking_since
        return Panel(
            body,
            title=f"thinking… {elapsed:.0f} s",
            title_align="left",
            border_style="dim",
            style="dim",
        )

    def _collapse(self) -> None:
        if self._live is None:
            return
        self._live.stop()
        self._live = None
        text = "".join(self._thinking)
        self._thinking = []
        self.reasoning.append(text)
        seconds = time.monotonic() - self._thinking_since
        words = len(text.split())
        self._console.print(
            Text(f"▸ thought for {seconds:.1f} s ({words} words) · /reasoning to expand", "dim")
        )

    def _line(self, text: Text) -> None:
        if not self._at_line_start:
            self._console.out("")
        self._console.print(text)
        self._at_line_start = True


# ------------------------------------------------------------------ input


class _LineReader:
    """Lines from a file descriptor, read by the event loop (no thread to strand)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._watching = False

    async def readline(self) -> str | None:
        """The next line without its newline; ``None`` at end of input."""
        while b"\n" not in self._buffer and not self._eof:
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            if not self._watching:
                loop.add_reader(self._fd, self._on_readable)
                self._watching = True
            try:
                await self._waiter
            finally:
                self._waiter = None
        if b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
        elif self._buffer:
            line, self._buffer = self._buffer, b""
        else:
            return None
        return line.decode("utf-8", errors="replace").rstrip("\r")

    def close(self) -> None:
        if self._watching:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._watching = False

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, 65_536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._buffer += data
        else:  # Ctrl-D on an empty line, or the pipe closed
            self._eof = True
            self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _cancelled_note(turn: asyncio.Task[None]) -> str:
    """What a cancelled turn left: nothing, or (cancelled while saving) the whole turn."""
    try:
        turn.result()
    except CancelledAfterSave:
        return "cancelled after the answer was saved: it is in the thread"
    except asyncio.CancelledError:
        pass
    return "cancelled: nothing of this answer was saved; the thread goes on"
