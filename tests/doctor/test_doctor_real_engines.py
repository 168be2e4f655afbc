"""``ponder doctor`` on what a real llama-server showed (issue 12.6)."""

from __future__ import annotations

from typing import Any

from ponder.cli.doctor_probe import diagnose
from ponder.testing import FakeModelServer, ToolCallSpec, Turn


def answer(body: dict[str, Any]) -> Turn:
    if body.get("tools"):
        return Turn(reasoning="Calling it.", tool_calls=[ToolCallSpec("ping", {"word": "hi"})])
    if body.get("response_format") or "JSON" in str(body.get("messages")):
        return Turn(reasoning="JSON it is.", content='{"ok": true}')
    return Turn(reasoning="Easy.", content="ok")


async def test_a_single_transient_stream_break_does_not_fail_a_probe() -> None:
    seen = {"chat": 0}

    def flaky(body: dict[str, Any]) -> Turn:
        if not body.get("tools") and not body.get("response_format") and not seen["chat"]:
            seen["chat"] += 1
            return Turn(reasoning="Easy " * 20, content="ok", drop_after_chunks=2)
        return answer(body)

    with FakeModelServer(flaky, shape="llamacpp") as server:
        report = await diagnose(provider="llamacpp", base_url=server.base_url, model="m")
    assert report.exit_code == 0, report.table()
    assert report.check("chat").status == "ok"


async def test_llamacpp_quirks_are_named_with_what_ponder_does() -> None:
    with FakeModelServer(answer, shape="llamacpp") as server:
        report = await diagnose(provider="llamacpp", base_url=server.base_url, model="m")
    assert report.exit_code == 0, report.table()
    assert "'<tool_call>' text delta is dropped" in report.check("tool calls").detail
    assert 'sent as "required" with only that tool' in report.check("tool_choice").detail


async def test_samplers_failure_advises_the_fallback_that_works() -> None:
    # JSON grammar + --reasoning-format none + a template opening <think>: 400
    # "Failed to initialize samplers" for json_object and json_schema alike; doctor
    # once advised the json_object fallback it had just shown to be rejected.
    with FakeModelServer(answer, shape="llamacpp-r1-none") as server:
        report = await diagnose(provider="llamacpp", base_url=server.base_url, model="m")
    assert report.exit_code == 0, report.table()
    for mode in ("json_object", "json_schema"):
        assert "asks for JSON in the prompt" in report.check(mode).detail, report.table()
    assert "falls back to json_object" not in report.table()
