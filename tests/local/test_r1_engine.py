"""The real R1-Distill tokenizer and template in llama.cpp, on a tiny random-weight model.

The fixture model closes its thought at once (see ``r1_tiny``), so what follows
``</think>`` shows whether the engine's answer phase ran as designed.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from local.r1_tiny import THINK_CLOSE_ID, THINK_OPEN_ID
from ponder.backends import (
    ChatRequest,
    Completed,
    NamedToolChoice,
    ResponseFormat,
    ToolCallDelta,
    ToolSpec,
    UserMessage,
)
from ponder.backends.local.llamacpp import LlamaCppBackend

pytestmark = pytest.mark.local_engine

VERDICT = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "grade": {"enum": ["A", "B", "C"]}},
    "required": ["ok", "grade"],
    "additionalProperties": False,
}
CLOCK = ToolSpec(
    name="clock",
    description="The time in a zone.",
    parameters={
        "type": "object",
        "properties": {"tz": {"enum": ["UTC", "CET"]}},
        "required": ["tz"],
        "additionalProperties": False,
    },
)


@pytest.fixture
def r1(tiny_r1_path: Path) -> LlamaCppBackend:
    return LlamaCppBackend(tiny_r1_path, n_ctx=2048)


def ask(text: str, **options: object) -> ChatRequest:
    return ChatRequest(messages=(UserMessage(content=text),), seed=3, **options)  # type: ignore[arg-type]


async def test_the_prompt_ends_in_the_real_think_token(r1: LlamaCppBackend) -> None:
    shared = await _loaded(r1)
    rendered = shared.template.render(ask("Time?", tools=(CLOCK,)))
    tokens = shared.llm.tokenize(rendered.text.encode(), add_bos=False, special=True)
    assert tokens[0] == shared.llm.token_bos()
    assert tokens[-2] == THINK_OPEN_ID  # "<think>", then "\n"
    assert shared.llm.detokenize([tokens[-1]], special=True) == b"\n"
    assert tokens.count(shared.llm.token_bos()) == 1
    assert rendered.tool_section_added and rendered.starts_in_thought
    close = shared.llm.tokenize(b"</think>", add_bos=False, special=True)
    assert close == [THINK_CLOSE_ID]


async def test_json_grammar_applies_after_the_thought_not_to_it(r1: LlamaCppBackend) -> None:
    fmt = ResponseFormat(type="json_schema", json_schema=VERDICT)
    completion = await r1.complete(ask("Grade this.", response_format=fmt, max_tokens=60))
    # Had the grammar constrained the thought, </think> could never be sampled and
    # the JSON would have been read as reasoning, leaving the answer empty.
    jsonschema.validate(json.loads(completion.content), VERDICT)
    assert completion.thinking_skipped
    assert completion.finish_reason == "stop"


async def test_named_tool_choice_is_parsed_as_an_r1_tool_call(r1: LlamaCppBackend) -> None:
    request = ask(
        "What time is it?", tools=(CLOCK,), tool_choice=NamedToolChoice(name="clock"), max_tokens=60
    )
    events = [e async for e in r1.stream(request)]
    final = events[-1]
    assert isinstance(final, Completed)
    (call,) = final.completion.tool_calls
    assert call.name == "clock"
    jsonschema.validate(call.parsed, CLOCK.parameters)
    assert final.completion.finish_reason == "tool_calls"
    assert final.completion.content == ""
    assert any(isinstance(e, ToolCallDelta) and e.name == "clock" for e in events)


async def test_an_unknown_named_tool_is_a_value_error(r1: LlamaCppBackend) -> None:
    request = ask("Hi", tools=(CLOCK,), tool_choice=NamedToolChoice(name="nope"))
    with pytest.raises(ValueError, match="'nope'"):
        await r1.complete(request)


async def _loaded(backend: LlamaCppBackend):  # type: ignore[no-untyped-def]
    await backend.load()
    return backend._load()
