"""Shared pieces of the benchmark scripts: the fake model process, statistics, tables."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "BENCH_DIR",
    "add",
    "fake_model",
    "median_ms",
    "p99_ms",
    "peak_rss_mb",
    "table",
]

BENCH_DIR = Path(__file__).resolve().parent


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first addend
        b: the second addend
    """
    return a + b


@contextlib.contextmanager
def fake_model(
    *, steps: int, first_byte_delay_s: float = 0.0, chunk_chars: int = 16, stamp: bool = False
) -> Iterator[str]:
    """Run ``_fake_server.py`` in a child process (its own GIL); yield its base URL."""
    command = [
        sys.executable,
        str(BENCH_DIR / "_fake_server.py"),
        f"--steps={steps}",
        f"--first-byte-delay={first_byte_delay_s}",
        f"--chunk-chars={chunk_chars}",
        *(["--stamp"] if stamp else []),
    ]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"fake model server did not start (said {line!r})")
        yield line.split(" ", 1)[1].strip()
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def median_ms(values: Sequence[float]) -> float:
    """The median of durations in seconds, in milliseconds."""
    return statistics.median(values) * 1000


def p99_ms(values: Sequence[float]) -> float:
    """The 99th percentile (inclusive method) of durations in seconds, in milliseconds."""
    if len(values) < 2:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[98] * 1000


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; floats get two decimals."""

    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
