"""``run_python``: the code runner as a tool the model can call."""

from __future__ import annotations

from typing import Literal

from ponder.tools.base import Tool
from ponder.tools.code.e2b import E2BRunner
from ponder.tools.code.local import LocalSandbox
from ponder.tools.code.result import CodeRunner

__all__ = ["make_runner", "run_python_tool"]

_DESCRIPTION = (
    "Run Python 3 code in a persistent session, like a notebook cell: variables, "
    "imports and files in the working folder persist between calls. Returns stdout, "
    "stderr, the repr of the last expression and any error with its traceback. "
    "There is no network access."
)


def make_runner(kind: Literal["local", "e2b"] = "local", **opts: object) -> CodeRunner:
    """A code runner: ``"local"`` (:class:`LocalSandbox`) or ``"e2b"`` (:class:`E2BRunner`)."""
    if kind == "local":
        return LocalSandbox(**opts)  # type: ignore[arg-type]
    if kind == "e2b":
        return E2BRunner(**opts)  # type: ignore[arg-type]
    raise ValueError(f"unknown runner kind {kind!r}; expected 'local' or 'e2b'")


def run_python_tool(runner: CodeRunner, *, timeout_s: float = 30.0) -> Tool:
    """The ``run_python`` tool over ``runner``; ``timeout_s`` is the per-call code limit."""

    async def run_python(code: str) -> str:
        """Run Python code in the session.

        Args:
            code: Python source; if it ends with an expression, its value is shown.
        """
        result = await runner.run(code, timeout_s=timeout_s)
        return result.to_text()

    return Tool.from_function(
        run_python,
        name="run_python",
        description=_DESCRIPTION,
        timeout_s=timeout_s + 15,  # the runner's own limit fires first and reports
        max_output_chars=80_000,
    )
