"""``ponder doctor`` against the loopback fakes of each provider's wire."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ponder.cli.doctor_probe import diagnose, doctor_main
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

KEY = "sk-doctor-test-key-0123456789"


def answer(body: dict[str, Any]) -> Turn:
    """A well-behaved model: calls tools when offered, answers JSON when asked."""
    if body.get("tools"):
        return Turn(reasoning="Calling it.", tool_calls=[ToolCallSpec("ping", {"word": "hi"})])
    if body.get("response_format"):
        return Turn(reasoning="JSON it is.", content='{"ok": true}')
    return Turn(reasoning="Easy.", content="ok")


@pytest.mark.parametrize(
    ("shape", "provider", "reasoning", "think", "tools"),
    [
        ("deepseek", "deepseek", "`reasoning_content`", "parser removes", "native"),
        ("vllm", "vllm", "`reasoning`", "parser removes", "native"),
        ("sglang", "sglang", "`reasoning_content`", "parser removes", "native"),
        ("ollama", "ollama", "`reasoning`", "parser removes", "native"),
        ("llamacpp", "llamacpp", "`reasoning_content`", "parser removes", "native"),
        ("llamacpp-none", "llamacpp", "inline", "<think>…</think>", "native"),
        ("openrouter", "auto", "`reasoning`", "parser removes", "native"),
        ("raw", "auto", "inline", "<think>…</think>", "R1 raw tool tokens"),
        ("distill", "auto", "inline", "only </think>", "R1 raw tool tokens"),
    ],
)
async def test_each_provider_shape_is_reported_as_it_speaks(
    shape: str, provider: str, reasoning: str, think: str, tools: str
) -> None:
    with FakeModelServer(answer, shape=shape) as server:
        report = await diagnose(
            provider=provider, base_url=server.base_url, model="fake-r1", api_key=KEY
        )
    assert report.exit_code == 0, report.table()
    assert report.check("reachable").status == "ok"
    assert report.check("models").status == "ok"
    assert reasoning in report.check("reasoning").detail
    assert think in report.check("think tags").detail
    assert report.check("tool calls").detail.startswith(tools)
    assert report.check("json_object").status == "ok"
    assert KEY not in report.table()


async def test_deepseek_thinking_mode_limits_are_reported() -> None:
    with FakeModelServer(answer, shape="deepseek") as server:
        report = await diagnose(
            provider="openai-compatible",
            base_url=server.base_url,
            model="deepseek-v4-pro",
            api_key=KEY,
        )
    assert report.exit_code == 0
    assert report.check("tool_choice").detail == "required: rejected; named: rejected"
    assert report.check("json_schema").detail.startswith("rejected")
    assert report.check("profile").status == "warn"
    assert "json_schema is rejected" in report.check("profile").detail


async def test_a_model_that_never_calls_tools_is_a_warning() -> None:
    with FakeModelServer(lambda body: Turn(reasoning="Hm.", content="no"), shape="vllm") as server:
        report = await diagnose(provider="vllm", base_url=server.base_url, model="fake-r1")
    assert report.exit_code == 0
    assert report.check("tool calls").status == "warn"
    assert report.check("json_object").detail == "accepted, but the answer was not JSON"


async def test_an_unreachable_server_exits_3() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    report = await diagnose(provider="vllm", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    assert report.exit_code == 3
    assert report.check("reachable").status == "fail"
    assert "could not reach" in (report.reason or "")


async def test_a_wrong_key_exits_4_without_echoing_it() -> None:
    with FakeModelServer(answer, shape="deepseek", api_key="the-right-key") as server:
        report = await diagnose(
            provider="deepseek", base_url=server.base_url, model="fake-r1", api_key=KEY
        )
    assert report.exit_code == 4
    assert KEY not in report.table()


async def test_a_server_whose_chat_fails_exits_5() -> None:
    with FakeModelServer(lambda body: Turn(status=500), shape="vllm") as server:
        report = await diagnose(provider="vllm", base_url=server.base_url, model="fake-r1")
    assert report.exit_code == 5
    assert report.check("chat").status == "fail"
    assert report.table().splitlines()[-1].startswith("unusable: a plain chat request failed")


def test_doctor_main_prints_the_table_and_returns_the_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeModelServer(answer, shape="vllm") as server:
        code = doctor_main(provider="vllm", base_url=server.base_url, model="fake-r1", api_key=None)
    out = capsys.readouterr().out
    assert code == 0
    assert "reasoning    OK    in the field `reasoning`" in out
    assert out.rstrip().endswith("usable: ponder can run agents on this backend")


def test_doctor_main_reports_bad_configuration_as_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor_main(provider="nonsense", base_url=None, model=None, api_key=None) == 2
    assert "unknown provider 'nonsense'" in capsys.readouterr().out
