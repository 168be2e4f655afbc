"""What one run of code produced, and how the model reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "CodeRunner",
    "ExecutionError",
    "ExecutionResult",
    "SandboxLimits",
    "SandboxUnavailableError",
    "cap_text",
]


class SandboxUnavailableError(RuntimeError):
    """The requested sandbox cannot run here (missing tool, kernel feature or API key)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Bounds for one local session.

    Where cgroups are usable (Linux with cgroup v1, or v2 with the memory and
    pids controllers delegated) ``memory_mb``, ``max_processes`` and
    ``cpu_s`` bound the whole session: every process it ever started, files
    in its tmpfs folders included in the memory. Everywhere they are also
    kernel rlimits on each process (RLIMIT_AS, RLIMIT_NPROC, RLIMIT_CPU).
    ``wall_timeout_s`` bounds each call; ``disk_mb`` caps the work folder and
    ``/tmp`` (each a tmpfs of that size), ``max_file_mb`` any one file.
    """

    cpu_s: int = 30
    memory_mb: int = 1024
    max_processes: int = 64
    max_open_files: int = 256
    max_file_mb: int = 64
    disk_mb: int = 256
    max_output_chars: int = 20_000
    wall_timeout_s: float = 30

    def __post_init__(self) -> None:
        for name in (
            "cpu_s",
            "memory_mb",
            "max_processes",
            "max_open_files",
            "max_file_mb",
            "disk_mb",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"SandboxLimits.{name} must be >= 1")
        if self.max_output_chars < 100:
            raise ValueError("SandboxLimits.max_output_chars must be >= 100")
        if self.wall_timeout_s <= 0:
            raise ValueError("SandboxLimits.wall_timeout_s must be positive")

    def for_worker(self) -> dict[str, int]:
        """The limits the worker sets on itself (rlimits, output cap), as its config holds them."""
        return {
            "cpu_s": self.cpu_s,
            "memory_mb": self.memory_mb,
            "max_processes": self.max_processes,
            "max_open_files": self.max_open_files,
            "max_file_mb": self.max_file_mb,
            "max_output_chars": self.max_output_chars,
        }


@dataclass(frozen=True)
class ExecutionError:
    """An exception raised by the code: its type name, message and trimmed traceback."""

    name: str
    message: str
    traceback: str


@dataclass(frozen=True)
class ExecutionResult:
    """The outcome of one call, notebook style.

    ``value`` is the repr of the last expression, if the code ended with one.
    ``state_lost`` says the session was restarted before this call, so
    variables from earlier calls are gone. ``truncated_chars`` counts the
    characters cut from stdout, stderr, value and traceback together.
    """

    stdout: str = ""
    stderr: str = ""
    value: str | None = None
    error: ExecutionError | None = None
    timed_out: bool = False
    state_lost: bool = False
    truncated_chars: int = 0
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the code ran to the end without an error or timeout."""
        return self.error is None and not self.timed_out

    def to_text(self) -> str:
        """The result as the model reads it: notes first, then one section per output."""
        parts: list[str] = []
        if self.state_lost:
            parts.append(
                "[note] The Python session was restarted before this code ran: "
                "variables, imports and files from earlier calls are gone."
            )
        if self.timed_out:
            parts.append(
                f"[note] Timed out after {self.duration_s:.1f} s; the session was killed "
                "and the next call starts a fresh one."
            )
        if self.truncated_chars:
            parts.append(f"[note] Output too long: {self.truncated_chars} characters were cut.")
        for title, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text:
                parts.append(f"[{title}]\n{text.rstrip()}")
        if self.value is not None:
            parts.append(f"[value]\n{self.value}")
        if self.error is not None and not self.timed_out:
            parts.append(
                f"[error] {self.error.name}: {self.error.message}\n{self.error.traceback}".rstrip()
            )
        if not parts:
            parts.append("[no output]")
        return "\n\n".join(parts)


class CodeRunner(Protocol):
    """Runs Python code in a session that keeps its state between calls."""

    async def run(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Run ``code``; ``timeout_s`` overrides the runner's wall-clock limit."""
        ...

    async def aclose(self) -> None:
        """End the session and free what it holds."""
        ...


def cap_text(text: str, limit: int) -> tuple[str, int]:
    """``text`` cut to about ``limit`` characters, keeping head and tail; and the count cut."""
    if len(text) <= limit:
        return text, 0
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n… [{cut} characters cut] …\n{text[-half:]}", cut
