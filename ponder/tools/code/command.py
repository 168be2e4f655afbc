"""Run one command in a fresh box and take its verdict from the host's own ``waitpid``.

The box gets a private tmpfs work folder filled from a read-only *seed*
folder, runs the command, and is killed (all of it: its PID namespace and
control group) when the command ends or its time is up. The exit status is
bwrap's, read by the host: nothing the command prints, and no process of any
other box, can change it. The output is evidence for a reader, never parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from ponder.tools.code.box import bwrap_usable, fresh_uid, kill_box, launch_box
from ponder.tools.code.result import SandboxLimits, SandboxUnavailableError

__all__ = ["CommandOutcome", "run_command"]

_CHUNK = 65_536


@dataclass(frozen=True)
class CommandOutcome:
    """How one command ended: its exit status (None when killed for time), its output."""

    exit_code: int | None
    output: str
    timed_out: bool = False
    duration_s: float = 0.0


async def run_command(
    argv: list[str],
    *,
    seed: Path,
    limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen, shared safely
    timeout_s: float = 60.0,
    head_chars: int = 3_000,
    tail_chars: int = 5_000,
) -> CommandOutcome:
    """Run ``argv`` in a fresh box over a copy of ``seed``; stdout and stderr merged.

    ``python``/``python3`` and ``pytest`` mean the host's interpreter. The
    output keeps its first ``head_chars`` and last ``tail_chars`` characters.
    """
    if not argv:
        raise ValueError("the command is empty")
    if not bwrap_usable():
        raise SandboxUnavailableError("running a command in a fresh box needs bubblewrap (bwrap)")
    started = time.perf_counter()
    box = await launch_box(
        mode="command", limits=limits, uid=fresh_uid(), seed=seed, argv=argv, merge_stderr=True
    )
    assert box.proc.stdout is not None
    reader = asyncio.ensure_future(_read_capped(box.proc.stdout, head_chars, tail_chars))
    timed_out = False
    try:
        await asyncio.wait_for(box.proc.wait(), timeout_s)
    except TimeoutError:
        timed_out = True
    except BaseException:  # cancelled: nothing of the box may outlive the call
        reader.cancel()
        raise
    finally:
        kill_box(box)  # the command's leftovers too, before anything else happens
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(box.proc.wait(), 5)
    try:
        output = await asyncio.wait_for(reader, 5)
    except TimeoutError:
        output = "[sandbox] the output could not be read"
    code = None if timed_out else box.proc.returncode
    if timed_out:
        output += f"\n[sandbox] killed after {timeout_s:g} s"
    return CommandOutcome(code, output, timed_out, time.perf_counter() - started)


async def _read_capped(stream: asyncio.StreamReader, head_chars: int, tail_chars: int) -> str:
    """All of ``stream`` as text, cut to its first and last characters."""
    head = bytearray()
    tail = bytearray()
    total = 0
    keep_head, keep_tail = 4 * head_chars, 4 * tail_chars  # bytes enough for any UTF-8
    while chunk := await stream.read(_CHUNK):
        total += len(chunk)
        room = keep_head - len(head)
        if room > 0:
            head += chunk[:room]
            chunk = chunk[room:]
        tail += chunk
        del tail[: max(0, len(tail) - keep_tail)]
    text_head = head.decode("utf-8", "replace")
    text_tail = tail.decode("utf-8", "replace")
    if (
        total <= keep_head + keep_tail
        and len(text_head) + len(text_tail) <= head_chars + tail_chars
    ):
        return text_head + text_tail
    text = text_head + text_tail
    kept_head, kept_tail = text[:head_chars], text[-tail_chars:]
    cut = max(0, len(text) - head_chars - tail_chars) + max(0, total - keep_head - keep_tail)
    return f"{kept_head}\n[... {cut} characters cut ...]\n{kept_tail}"
