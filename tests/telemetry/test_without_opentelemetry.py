"""Without OpenTelemetry installed a run works and nothing tries to import it.

A real subprocess whose import system refuses every ``opentelemetry`` module
(as if the ``otel`` extra, and the API, were not installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import asyncio, importlib.abc, sys

    tried = []

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] == "opentelemetry":
                tried.append(name)
                raise ImportError(f"no module named {name!r}")
            return None

    sys.meta_path.insert(0, Refuse())
    from ponder.agents import Agent
    from ponder.backends import OpenAICompatibleBackend
    from ponder.testing import FakeModelServer, ToolCallSpec, Turn

    def add(a: int, b: int) -> int:
        "Add two integers."
        return a + b

    async def main():
        script = [Turn(reasoning="r", tool_calls=[ToolCallSpec("add", {"a": 1, "b": 2})]),
                  Turn(reasoning="r", content="3")]
        with FakeModelServer(script, shape="deepseek") as server:
            async with OpenAICompatibleBackend(base_url=server.base_url, model="m",
                                               profile="deepseek") as backend:
                result = await Agent(backend, [add]).arun("1 + 2?")
        print(result.answer, sorted(m for m in sys.modules if m.startswith("opentelemetry")))

    asyncio.run(main())
    """
)


@pytest.mark.slow
def test_a_run_without_opentelemetry() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "3 []"
