"""DeepSeek's current API on the wire (api-docs.deepseek.com, guides/thinking_mode)."""

from __future__ import annotations

import pytest
from backend_helpers import ask, backend_for

from ponder.backends import get_profile
from ponder.testing import FakeModelServer, Turn


@pytest.mark.parametrize(
    ("requested", "sent"),
    [
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "high"),
        ("high", "high"),
        ("xhigh", "high"),
        ("max", "max"),
        ("ultra", "max"),
    ],
)
async def test_reasoning_effort_names_map_to_the_three_deepseek_accepts(
    requested: str, sent: str
) -> None:
    # The fake server answers 400 to anything but low/high/max, as the OpenAI form does.
    with FakeModelServer([Turn(reasoning="r", content="ok")], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek", model="deepseek-v4-pro") as backend:
            completion = await backend.complete(ask(reasoning_effort=requested))
    body = srv.requests[0].body or {}
    assert completion.content == "ok"
    assert (body["thinking"], body["reasoning_effort"]) == ({"type": "enabled"}, sent)


async def test_thinking_on_sends_no_sampling_and_thinking_off_sends_it() -> None:
    turns = [Turn(reasoning="r", content="a"), Turn(content="b"), Turn(content="c")]
    penalty = {"presence_penalty": 0.5}
    with FakeModelServer(turns, shape="deepseek") as srv:
        async with backend_for(srv, "deepseek", model="deepseek-v4-flash") as backend:
            await backend.complete(ask(extra_body=penalty))
            await backend.complete(ask(reasoning_effort="none", extra_body=penalty))
        async with backend_for(srv, "deepseek", model="deepseek-chat") as backend:
            await backend.complete(ask())
    thinking, effort_none, chat = (r.body or {} for r in srv.requests)
    assert thinking["thinking"] == {"type": "enabled"}
    assert not {"temperature", "top_p", "presence_penalty"} & thinking.keys()
    for body in (effort_none, chat):
        assert body["thinking"] == {"type": "disabled"} and "reasoning_effort" not in body
        assert (body["temperature"], body["top_p"]) == (0.6, 0.95)
    assert effort_none["presence_penalty"] == 0.5


async def test_an_unknown_effort_is_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    with FakeModelServer([Turn(reasoning="r", content="ok")], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek", model="deepseek-v4-pro") as backend:
            assert (await backend.complete(ask(reasoning_effort="extreme"))).content == "ok"
    assert "reasoning_effort" not in (srv.requests[0].body or {})
    assert "extreme" in caplog.text


@pytest.mark.parametrize("model", ["deepseek-flash", "deepseek-v4-flash", "deepseek-v4-pro"])
def test_current_model_ids_choose_the_v4_profile_anywhere(model: str) -> None:
    profile = get_profile("auto", base_url="https://gateway.example/v1", model=model)
    assert profile.name == "deepseek"
    assert (profile.replay, profile.replay_placeholder) == ("tool_turns", True)
