"""``run_python`` as a tool, and the runner factory."""

from __future__ import annotations

import pytest

from ponder.tools.code import LocalSandbox, make_runner, run_python_tool


@pytest.mark.sandbox
async def test_tool_runs_code_statefully() -> None:
    runner = make_runner("local")
    assert isinstance(runner, LocalSandbox)
    tool = run_python_tool(runner)
    try:
        assert tool.name == "run_python"
        assert tool.parameters["required"] == ["code"]
        assert await tool.invoke({"code": "a = 20"}) == "[no output]"
        assert await tool.invoke({"code": "a + 22"}) == "[value]\n42"
        assert "ZeroDivisionError" in await tool.invoke({"code": "a / 0"})
    finally:
        await runner.aclose()


def test_unknown_runner_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown runner kind"):
        make_runner("docker")  # type: ignore[arg-type]
