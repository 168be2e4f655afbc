"""The README's Python example runs (against the loopback fake instead of vLLM)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ponder.testing import FakeModelServer, ToolCallSpec, Turn

README = Path(__file__).resolve().parents[1] / "README.md"


def python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    [example] = [block for block in blocks if "asyncio.run(main())" in block]
    return example


def test_readme_python_example_runs(tmp_path: Path) -> None:
    script = [
        Turn(reasoning="add them", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 40})]),
        Turn(reasoning="done", content="2 + 40 = 42."),
    ]
    with FakeModelServer(script, shape="vllm") as server:
        code = python_example().replace("http://localhost:8000/v1", server.base_url)
        code = code.replace("sqlite:///answers.db", f"sqlite:///{tmp_path / 'answers.db'}")
        example = tmp_path / "readme_example.py"
        example.write_text(code, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(example)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert "ToolResultEvent" in done.stdout and "output='42'" in done.stdout
    assert "2 + 40 = 42." in done.stdout and "FinalEvent" in done.stdout
