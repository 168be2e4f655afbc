"""Chat-template rendering: R1-Distill's real template, tool sections, the forced thought."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.r1_tiny import read_header
from ponder.backends.local.template import ChatTemplate, r1_tool_section
from ponder.backends.types import (
    AssistantMessage,
    ChatRequest,
    NamedToolChoice,
    ResponseFormat,
    SystemMessage,
    ToolCall,
    ToolMessage,
    ToolSpec,
    UserMessage,
)

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
CLOCK = ToolSpec(
    name="clock",
    description="The current time.",
    parameters={"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
)
CHATML_WITH_TOOLS = (
    "{% if tools %}<|im_start|>tools\n{{ tools | tojson }}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def r1(r1_header: Path) -> ChatTemplate:
    source = read_header(r1_header)["tokenizer.chat_template"][1]
    return ChatTemplate(source, bos_token=BOS, eos_token=EOS)


def ask(*messages: object, **options: object) -> ChatRequest:
    return ChatRequest(messages=messages, **options)  # type: ignore[arg-type]


def test_r1_prompt_opens_the_thought_the_template_leaves_closed(r1: ChatTemplate) -> None:
    rendered = r1.render(ask(UserMessage(content="2+2?")))
    assert rendered.text == f"{BOS}<｜User｜>2+2?<｜Assistant｜><think>\n"
    assert rendered.starts_in_thought
    assert not rendered.tool_section_added
    assert r1.reasoning_model


def test_r1_template_ignores_tools_so_an_r1_section_joins_the_system_prompt(
    r1: ChatTemplate,
) -> None:
    request = ask(SystemMessage(content="Be brief."), UserMessage(content="Time?"), tools=(CLOCK,))
    rendered = r1.render(request)
    assert rendered.tool_section_added
    assert rendered.text.startswith(f"{BOS}Be brief.\n\n## Tools")
    assert "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>FUNCTION_NAME" in (
        rendered.text
    )
    assert '- `clock`: The current time.\n```json\n{"type": "object"' in rendered.text
    assert rendered.text.endswith("<｜User｜>Time?<｜Assistant｜><think>\n")


def test_tool_choice_none_hides_tools_and_named_choice_is_spelled_out(r1: ChatTemplate) -> None:
    hidden = r1.render(ask(UserMessage(content="hi"), tools=(CLOCK,), tool_choice="none"))
    assert "## Tools" not in hidden.text
    named = r1.render(
        ask(UserMessage(content="hi"), tools=(CLOCK,), tool_choice=NamedToolChoice(name="clock"))
    )
    assert "You must call the function `clock` before answering." in named.text


def test_r1_history_renders_tool_calls_and_outputs_and_drops_reasoning(r1: ChatTemplate) -> None:
    call = ToolCall(id="c1", name="clock", arguments='{"tz": "UTC"}')
    request = ask(
        UserMessage(content="Time?"),
        AssistantMessage(tool_calls=(call,), reasoning="SECRET-THOUGHT"),
        ToolMessage(tool_call_id="c1", content="12:00"),
        AssistantMessage(content="Noon.", reasoning="SECRET-THOUGHT"),
        UserMessage(content="Thanks"),
        tools=(CLOCK,),
    )
    text = r1.render(request).text
    assert "SECRET-THOUGHT" not in text
    assert (
        "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>clock\n"
        '```json\n{"tz": "UTC"}\n```<｜tool▁call▁end｜>'
    ) in text
    assert "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>12:00<｜tool▁output▁end｜>" in text
    assert text.endswith("<｜User｜>Thanks<｜Assistant｜><think>\n")


def test_after_tool_outputs_the_thought_is_still_opened(r1: ChatTemplate) -> None:
    call = ToolCall(id="c1", name="clock", arguments="{}")
    request = ask(
        UserMessage(content="Time?"),
        AssistantMessage(tool_calls=(call,)),
        ToolMessage(tool_call_id="c1", content="12:00"),
        tools=(CLOCK,),
    )
    rendered = r1.render(request)
    assert rendered.text.endswith("<｜tool▁outputs▁end｜><think>\n")
    assert rendered.starts_in_thought


def test_a_prefill_continues_instead_of_opening_again(r1: ChatTemplate) -> None:
    request = ask(UserMessage(content="hi"), AssistantMessage(content="<think>\nSo", prefix=True))
    rendered = r1.render(request)
    assert rendered.text.endswith("<｜Assistant｜><think>\nSo")
    assert rendered.starts_in_thought
    closed = r1.render(
        ask(
            UserMessage(content="hi"),
            AssistantMessage(content="<think>\n</think>\n\n", prefix=True),
        )
    )
    assert not closed.starts_in_thought


def test_a_template_that_renders_tools_gets_no_extra_section() -> None:
    template = ChatTemplate(CHATML_WITH_TOOLS)
    rendered = template.render(ask(UserMessage(content="hi"), tools=(CLOCK,)))
    assert not rendered.tool_section_added
    assert rendered.text.startswith('<|im_start|>tools\n[{"type": "function"')
    assert "## Tools" not in rendered.text


def test_a_plain_template_only_thinks_when_asked() -> None:
    template = ChatTemplate(CHATML_WITH_TOOLS)
    assert not template.reasoning_model
    plain = template.render(ask(UserMessage(content="hi")))
    assert plain.text.endswith("<|im_start|>assistant\n")
    assert not plain.starts_in_thought
    forced = template.render(ask(UserMessage(content="hi"), force_thinking=True))
    assert forced.text.endswith("<|im_start|>assistant\n<think>\n")
    assert forced.starts_in_thought
    never = ChatTemplate("{{ '</think>' }}", thinking="never")
    assert not never.render(ask(UserMessage(content="hi"))).starts_in_thought


def test_json_formats_add_the_instruction_with_the_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    template = ChatTemplate(CHATML_WITH_TOOLS)
    fmt = ResponseFormat(type="json_schema", json_schema=schema)
    text = template.render(ask(UserMessage(content="n?"), response_format=fmt)).text
    assert text.startswith("<|im_start|>system\nRespond with a single JSON object")
    assert '"properties": {"n": {"type": "integer"}}' in text


def test_bad_templates_are_value_errors() -> None:
    with pytest.raises(ValueError, match="does not parse"):
        ChatTemplate("{% for %}")
    failing = ChatTemplate("{{ raise_exception('no system role') }}")
    with pytest.raises(ValueError, match="no system role"):
        failing.render(ask(UserMessage(content="hi")))


def test_the_tool_section_lists_every_tool() -> None:
    other = ToolSpec(name="add", parameters={"type": "object"})
    section = r1_tool_section([CLOCK, other])
    assert "- `clock`: The current time." in section
    assert '- `add`\n```json\n{"type": "object"}\n```' in section
