"""What real engines sent (issue 12), replayed by the fake server on the real wire."""

from __future__ import annotations

import json

import pytest
from backend_helpers import ask, backend_for, collect

from ponder.backends import Completed, ContentDelta, OpenAICompatibleBackend, ReasoningDelta
from ponder.backends.markers import WORD_JOINER
from ponder.testing import FakeModelServer, Turn


def _final(events: list[object]) -> Completed:
    last = events[-1]
    assert isinstance(last, Completed)
    return last


def _shown(events: list[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


@pytest.mark.parametrize("model", ["tiny-r1", "DeepSeek-R1-Distill-Qwen-7B"])
@pytest.mark.parametrize("finish", ["stop", "length"])
async def test_a_model_name_never_decides_the_parse(model: str, finish: str) -> None:
    # 12.1: the same reply without think tags answered under one name and lost its
    # answer ({} became reasoning) under a name containing "distill".
    turn = Turn(content="{}", finish_reason=finish, chunk_chars=1)
    with FakeModelServer([turn], shape="vllm", model=model) as srv:
        async with OpenAICompatibleBackend(
            base_url=srv.base_url, model=model, profile="openai-compatible"
        ) as backend:
            events = await collect(backend, ask())
    completion = _final(events).completion
    assert completion.content == "{}" == _shown(events)
    assert completion.reasoning == ""
    assert completion.finish_reason == finish


async def test_a_close_tag_inside_the_answer_never_takes_back_shown_text() -> None:
    # 12.2: reasoning already came in reasoning_content; a later </think> in the
    # content turned answer text the user had seen into reasoning (949 -> 762 chars).
    answer = "Step one is shown. " * 20 + "R1 closes its thought with </think> and then " + "x" * 40
    turn = Turn(reasoning="Plan the answer.", content=answer, chunk_chars=5)
    with FakeModelServer([turn], shape="llamacpp") as srv:
        async with backend_for(srv, "llamacpp") as backend:
            events = await collect(backend, ask())
    completion = _final(events).completion
    assert _shown(events) == completion.content
    assert completion.content.replace(WORD_JOINER, "") == answer
    assert completion.reasoning == "Plan the answer."


@pytest.mark.parametrize("shape", ["vllm", "sglang", "llamacpp"])
async def test_text_before_an_unpaired_close_is_never_streamed_as_answer(shape: str) -> None:
    # Issue 11: with the vLLM profile and a model that starts inside <think>, text
    # before the unpaired </think> reached clients as answer text.
    turn = Turn(content="The user wants 2+2, secret plan.\n</think>\n\n4", chunk_chars=3)
    with FakeModelServer([turn], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            events = await collect(backend, ask())
    completion = _final(events).completion
    assert _shown(events) == completion.content == "4"
    assert "secret" not in _shown(events)
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == (
        "The user wants 2+2, secret plan."
    )
    assert completion.reasoning == "The user wants 2+2, secret plan."


_V32 = (
    "Let me check.\n\n<｜DSML｜function_calls>\n"
    '<｜DSML｜invoke name="get_weather">\n'
    '<｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>\n'
    '<｜DSML｜parameter name="days" string="false">3</｜DSML｜parameter>\n'
    "</｜DSML｜invoke>\n</｜DSML｜function_calls>"
)
_V4_ASCII = (
    '<|DSML|tool_calls>\n<|DSML|invoke name="get_weather">\n'
    '<|DSML|parameter name="city" string="true">Paris</|DSML|parameter>\n'
    '<|DSML|parameter name="days" string="false">3</|DSML|parameter>\n'
    "</|DSML|invoke>\n</|DSML|tool_calls>"
)


@pytest.mark.parametrize("text", [_V32, _V4_ASCII], ids=["v3.2", "v4-ascii"])
@pytest.mark.parametrize("shape", ["vllm", "sglang"])
async def test_dsml_leaked_into_content_becomes_a_tool_call(text: str, shape: str) -> None:
    # sglang #35736 / vllm #54686: DSML tool calls leak into content.
    turn = Turn(reasoning="Weather needs a tool.", content=text, chunk_chars=4)
    with FakeModelServer([turn], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            events = await collect(backend, ask())
    completion = _final(events).completion
    assert [(c.name, c.parsed) for c in completion.tool_calls] == [
        ("get_weather", {"city": "Paris", "days": 3})
    ]
    assert completion.finish_reason == "tool_calls"
    assert "DSML" not in _shown(events) and "invoke" not in _shown(events)
    assert completion.content == ("Let me check." if text == _V32 else "")


async def test_a_tool_call_written_inside_the_reasoning_is_never_executed() -> None:
    # vllm #39056 / lmstudio #1592: the call appears in the reasoning, then again in
    # the content: exactly one call, from the content.
    call = '<｜DSML｜invoke name="add">\n{"a": 1, "b": 2}\n</｜DSML｜invoke>'
    inside = f"I will call <｜DSML｜function_calls>\n{call}\n</｜DSML｜function_calls> now."
    block = f"<｜DSML｜function_calls>\n{call}\n</｜DSML｜function_calls>"
    turn = Turn(reasoning=inside, content=block)
    only_thought = Turn(reasoning=inside, content="No tool needed after all.")
    with FakeModelServer([turn, only_thought], shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            once = _final(await collect(backend, ask())).completion
            never = _final(await collect(backend, ask())).completion
    assert [(c.name, json.loads(c.arguments)) for c in once.tool_calls] == [
        ("add", {"a": 1, "b": 2})
    ]
    assert never.tool_calls == () and never.content == "No tool needed after all."
