"""``ponder run`` as a user runs it: a subprocess against a loopback fake model."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ponder.testing import FakeModelServer, ToolCallSpec, Turn

API_KEY = "sk-canary-key-4f1d9c"

IDENTITY_CLAIM = {"claim": {"kind": "identity", "lhs": "(a+b)**2", "rhs": "a**2 + 2*a*b + b**2"}}


def ponder(
    *args: str, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ponder", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_clean_line(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr


def test_no_backend_configured_says_how_in_one_line(env: dict[str, str]) -> None:
    done = ponder("run", "hello", env=env)
    assert done.returncode == 2
    assert_one_clean_line(done.stderr)
    assert "PONDER_BASE_URL" in done.stderr and "PONDER_API_KEY" in done.stderr


@pytest.mark.parametrize(
    ("shape", "provider", "model"),
    [
        ("deepseek", "deepseek", "deepseek-v4-pro"),
        ("vllm", "vllm", "deepseek-ai/DeepSeek-R1-0528"),
        ("ollama", "ollama", "deepseek-r1:8b"),
        ("llamacpp", "llamacpp", "r1-distill"),
    ],
)
def test_run_end_to_end_with_a_tool_per_provider_shape(
    env: dict[str, str], shape: str, provider: str, model: str
) -> None:
    script = [
        Turn(
            reasoning="Check the identity.",
            tool_calls=[ToolCallSpec("check_proof", IDENTITY_CLAIM)],
        ),
        Turn(reasoning="Proved.", content="Yes: (a+b)^2 = a^2 + 2ab + b^2."),
    ]
    with FakeModelServer(script, shape=shape, api_key=API_KEY) as server:
        env.update(PONDER_BASE_URL=server.base_url, PONDER_MODEL=model, PONDER_API_KEY=API_KEY)
        done = ponder("run", "--provider", provider, "--json", "Is (a+b)^2 = a^2+2ab+b^2?", env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) >= {"answer", "thread_id", "tool_calls", "usage", "steps"}
    assert out["answer"] == "Yes: (a+b)^2 = a^2 + 2ab + b^2."
    assert out["steps"] == 2 and out["usage"]["total_tokens"] > 0
    [call] = out["tool_calls"]
    assert call["name"] == "check_proof" and call["ok"] and "proved" in call["output"].lower()
    assert "Check the identity" not in done.stdout + done.stderr
    assert API_KEY not in done.stdout + done.stderr


def test_thread_continues_with_collapsed_history(env: dict[str, str]) -> None:
    script = [
        Turn(reasoning="first thought", content="Paris."),
        Turn(reasoning="second", content="About 2.1 million."),
    ]
    with FakeModelServer(script, shape="vllm") as server:
        env.update(PONDER_BASE_URL=server.base_url, PONDER_MODEL="r1")
        first = ponder("run", "--json", "Capital of France?", env=env)
        thread = json.loads(first.stdout)["thread_id"]
        second = ponder("run", "--json", "--thread", thread, "Its population?", env=env)
    assert json.loads(second.stdout)["answer"] == "About 2.1 million."
    sent = server.requests[1].body["messages"]
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
        ("user", "Its population?"),
    ]
    assert "first thought" not in json.dumps(sent)


def test_answer_streams_to_stdout_and_reasoning_to_stderr_on_request(env: dict[str, str]) -> None:
    script = [Turn(reasoning="secret chain of thought", content="The answer is 42.")]
    with FakeModelServer(script, shape="deepseek") as server:
        env.update(
            PONDER_BASE_URL=server.base_url, PONDER_MODEL="deepseek-v4-pro", PONDER_API_KEY=API_KEY
        )
        plain = ponder("run", "q?", env=env)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "The answer is 42."
    assert "secret chain" not in plain.stdout + plain.stderr
    script = [Turn(reasoning="secret chain of thought", content="The answer is 42.")]
    with FakeModelServer(script, shape="deepseek") as server:
        env.update(PONDER_BASE_URL=server.base_url)
        shown = ponder("run", "--show-reasoning", "q?", env=env)
    assert shown.stdout.strip() == "The answer is 42."
    assert "secret chain of thought" in shown.stderr


def test_schema_file_makes_the_answer_validated_json(env: dict[str, str], tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema))
    script = [Turn(reasoning="r", content='{"x": "one"}'), Turn(reasoning="r", content='{"x": 1}')]
    with FakeModelServer(script, shape="vllm") as server:
        env.update(PONDER_BASE_URL=server.base_url, PONDER_MODEL="r1")
        done = ponder("run", "--schema", str(schema_file), "--json", "x?", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == {"x": 1}
    fmt: Any = server.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == schema


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{not json", "not JSON"), ('{"type": 12}', "not a valid JSON Schema")],
)
def test_invalid_schema_file_is_one_line(
    env: dict[str, str], tmp_path: Path, content: str, expected: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    env.update(PONDER_BASE_URL="http://127.0.0.1:9/v1", PONDER_MODEL="r1")
    done = ponder("run", "--schema", str(bad), "q", env=env)
    assert done.returncode == 2
    assert_one_clean_line(done.stderr)
    assert expected in done.stderr


def test_bad_memory_url_is_one_line(env: dict[str, str]) -> None:
    env.update(PONDER_BASE_URL="http://127.0.0.1:9/v1", PONDER_MODEL="r1")
    done = ponder("run", "--memory", "nosuchdb://user:hunter2@host/db", "q", env=env)
    assert done.returncode == 2
    assert_one_clean_line(done.stderr)
    assert "memory URL" in done.stderr and "hunter2" not in done.stderr


def test_unreachable_backend_is_one_line(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env.update(
        PONDER_BASE_URL=f"http://127.0.0.1:{port}/v1", PONDER_MODEL="r1", PONDER_API_KEY=API_KEY
    )
    done = ponder("run", "q", env=env)
    assert done.returncode == 3
    assert_one_clean_line(done.stderr)
    assert "cannot reach" in done.stderr and API_KEY not in done.stderr


def test_wrong_api_key_is_one_line_and_never_echoed(env: dict[str, str]) -> None:
    with FakeModelServer([Turn(content="never")], shape="deepseek", api_key=API_KEY) as server:
        env.update(PONDER_BASE_URL=server.base_url, PONDER_MODEL="deepseek-v4-pro")
        done = ponder("run", "--api-key", "sk-wrong-key-123", "q", env=env)
    assert done.returncode == 4
    assert_one_clean_line(done.stderr)
    assert "authentication" in done.stderr.lower() and "sk-wrong-key-123" not in done.stderr


def test_step_budget_exhaustion_exits_non_zero(env: dict[str, str]) -> None:
    loop = Turn(reasoning="again", tool_calls=[ToolCallSpec("check_proof", IDENTITY_CLAIM)])
    script = [loop, Turn(reasoning="stop", content="best effort")]
    with FakeModelServer(script, shape="vllm") as server:
        env.update(PONDER_BASE_URL=server.base_url, PONDER_MODEL="r1")
        done = ponder("run", "--max-steps", "1", "q", env=env)
    assert done.returncode == 1
    assert "best effort" in done.stdout
    assert "budget" in done.stderr and "Traceback" not in done.stderr
