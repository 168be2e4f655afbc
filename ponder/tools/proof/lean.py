"""Lean 4 checks: run the ``lean`` binary on a temporary file and read its messages.

The binary is ``lean_path`` if given, else ``$PONDER_LEAN``, else ``lean`` on
``PATH``. It runs without a shell, in its own process group (killed whole on
timeout), with output capped. A file that checks with no errors, no ``sorry``
and no ``axiom`` of its own is proved; anything else is unknown, with Lean's
messages (line, column, text, source line) as the explanation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .verdict import Verdict

__all__ = ["LEAN_ENV", "LeanMessage", "check_lean", "find_lean", "parse_messages"]

LEAN_ENV = "PONDER_LEAN"
_MAX_OUTPUT = 256 * 1024
_MAX_SHOWN = 5
_MAX_MESSAGE = 600
_HEADER = re.compile(
    r"^(?P<file>[^\n]*?):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning|info)"
    r"(?:\([^)\n]*\))?: ?(?P<text>.*)$"
)
_AXIOM = re.compile(r"^\s*(?:private\s+)?axiom\s+([^\s:({\[]+)", re.MULTILINE)
_INSTALL = (
    "Install Lean 4 with elan (https://github.com/leanprover/elan: "
    "`curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh`), "
    f"then put ~/.elan/bin on PATH or set {LEAN_ENV} to the lean binary."
)


@dataclass(frozen=True)
class LeanMessage:
    """One message from Lean: position, severity and text (continuation lines included)."""

    line: int
    column: int
    severity: str
    text: str


def find_lean(lean_path: str | None = None) -> str | None:
    """The lean binary to run, or ``None`` when there is none."""
    candidate = lean_path or os.environ.get(LEAN_ENV) or "lean"
    return shutil.which(candidate)


def parse_messages(output: str) -> list[LeanMessage]:
    """Split Lean's output into messages (``file:line:col: severity: text``)."""
    messages: list[LeanMessage] = []
    current: dict[str, str] | None = None
    body: list[str] = []
    for raw in output.splitlines():
        match = _HEADER.match(raw)
        if match:
            if current is not None:
                messages.append(_message(current, body))
            current, body = match.groupdict(), [match["text"]]
        elif current is not None:
            body.append(raw)
    if current is not None:
        messages.append(_message(current, body))
    return messages


def _message(header: dict[str, str], body: list[str]) -> LeanMessage:
    text = "\n".join(body).strip()
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + " …"
    return LeanMessage(int(header["line"]), int(header["col"]), header["severity"], text)


def _describe(messages: list[LeanMessage], source: str) -> str:
    lines = source.splitlines()
    parts = []
    for message in messages[:_MAX_SHOWN]:
        where = f"line {message.line}, column {message.column}"
        if 0 < message.line <= len(lines):
            where += f" (`{lines[message.line - 1].strip()[:120]}`)"
        parts.append(f"- {where}: {message.text}")
    if len(messages) > _MAX_SHOWN:
        parts.append(f"- … and {len(messages) - _MAX_SHOWN} more")
    return "\n".join(parts)


async def _read_capped(stream: asyncio.StreamReader) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < _MAX_OUTPUT:
            kept += chunk[: _MAX_OUTPUT - len(kept)]
    return bytes(kept)


async def _run(binary: str, path: Path, timeout_s: float) -> tuple[int | None, str]:
    """(exit code or None on timeout, output) of ``binary path``."""
    process = await asyncio.create_subprocess_exec(
        binary,
        str(path),
        cwd=path.parent,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        output = await asyncio.wait_for(_read_capped(process.stdout), timeout_s)
        code: int | None = await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return None, ""
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    return code, output.decode("utf-8", "replace")


async def check_lean(source: str, *, timeout_s: float, lean_path: str | None = None) -> Verdict:
    """Check a Lean 4 source file with the ``lean`` binary."""
    binary = find_lean(lean_path)
    if binary is None:
        return Verdict("unknown", "lean", f"Lean is not installed here. {_INSTALL}")
    with tempfile.TemporaryDirectory(prefix="ponder-lean-") as folder:
        path = Path(folder) / "Claim.lean"
        path.write_text(source, encoding="utf-8")
        code, output = await _run(binary, path, timeout_s)
    if code is None:
        return Verdict("unknown", "lean", f"Lean did not finish within {timeout_s:g} s.")
    messages = parse_messages(output)
    errors = [m for m in messages if m.severity == "error"]
    if errors or code != 0:
        detail = _describe(errors, source) if errors else output.strip()[-_MAX_MESSAGE:]
        return Verdict(
            "unknown",
            "lean",
            f"Lean rejected the proof (exit code {code}); the claim is not established:\n"
            + (detail or "(no output)"),
        )
    sorry = [m for m in messages if "sorry" in m.text]
    if sorry:
        return Verdict(
            "unknown",
            "lean",
            "Not proved: the file uses sorry (a placeholder for a missing proof):\n"
            + _describe(sorry, source),
        )
    axioms = _AXIOM.findall(source)
    if axioms:
        return Verdict(
            "unknown",
            "lean",
            f"Lean accepts the file, but it declares axiom(s) {', '.join(axioms)}, "
            "so the result rests on unproved assumptions.",
        )
    return Verdict("proved", "lean", "Lean 4 checked the file with no errors and no sorry.")
