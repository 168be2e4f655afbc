"""Reasoning detection, stripping and deep redaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage

from ponder.backends.types import AssistantMessage
from ponder.memory import contains_reasoning, redact, strip_reasoning
from ponder.memory.redaction import has_reasoning_keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\nplan\n</think>\n\nThe answer is 4.", "The answer is 4."),
        ("plan only, template opened the tag\n</think>\nAnswer", "Answer"),
        ("Answer<think>cut off mid-thought", "Answer"),
        ("<think></think>Answer", "Answer"),
        ("<THINK>a</THINK>b<think>c</think>d", "bd"),
        ("<thinking>a</thinking>b", "b"),
        ("x<｜end▁of▁sentence｜>", "x"),
        ("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{}", "f{}"),
        ("<thi<｜User｜>nk>hidden", ""),
        ("plain answer, x < y > z", "plain answer, x < y > z"),
        ("  keep leading space", "  keep leading space"),
    ],
)
def test_strip_reasoning(text: str, expected: str) -> None:
    assert strip_reasoning(text) == expected
    assert not contains_reasoning(strip_reasoning(text))


@pytest.mark.parametrize(
    "text", ["<think>", "</think>", "< /think >", "<｜begin▁of▁sentence｜>", "<｜DSML｜invoke"]
)
def test_contains_reasoning(text: str) -> None:
    assert contains_reasoning(f"before {text} after")


def test_plain_text_is_not_reasoning() -> None:
    assert not contains_reasoning("I think <b>this</b> | that ｜ is fine; a<think")


def test_reasoning_keys_in_json_text() -> None:
    assert has_reasoning_keys('{"a": {"reasoning_content" : "x"}}')
    assert has_reasoning_keys('[{"reasoning_details": [')  # truncated JSON too
    assert not has_reasoning_keys('{"reasoning": "a schema field"}')


_markers = st.sampled_from(["<think>", "</think>", "<｜User｜>", "<thinking>", "<｜tool▁sep｜>"])
_pieces = st.one_of(st.text(max_size=20), _markers)


@given(st.lists(_pieces, max_size=12).map("".join))
def test_stripped_text_never_contains_reasoning(text: str) -> None:
    assert not contains_reasoning(strip_reasoning(text))


@given(st.text(alphabet=st.characters(blacklist_characters="<｜")))
def test_text_without_markers_is_unchanged(text: str) -> None:
    assert strip_reasoning(text) == text


class _Snapshot(NamedTuple):
    value: object


@dataclass(frozen=True)
class _Step:
    note: str
    reasoning: str | None = None


def test_redact_nested_values() -> None:
    secret = "SECRET"
    ai = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": secret},
            {"type": "thinking", "thinking": secret},
            {"type": "text", "text": f"<think>{secret}</think>shown"},
        ],
        additional_kwargs={"reasoning_content": secret, "keep": 1},
        response_metadata={"reasoning": secret},
    )
    ponder_msg = AssistantMessage(
        content="ok", reasoning=secret, reasoning_details=({"text": secret},)
    )
    value = {
        "messages": [ai, ponder_msg],
        "thinking": secret,
        "snap": _Snapshot(f"<think>{secret}</think>v"),
        "step": _Step(note="n", reasoning=secret),
        "tags": ("a", f"<think>{secret}</think>b"),
    }
    out = redact(value)
    assert secret not in repr(out)
    red_ai, red_ponder = out["messages"]
    assert red_ai.content == [{"type": "text", "text": "shown"}]
    assert red_ai.additional_kwargs == {"keep": 1}
    assert (red_ponder.content, red_ponder.reasoning, red_ponder.reasoning_details) == (
        "ok",
        None,
        None,
    )
    assert out["snap"] == _Snapshot("v") and isinstance(out["snap"], _Snapshot)
    assert out["step"] == _Step(note="n")
    assert out["tags"] == ("a", "b")
    assert "thinking" not in out


def test_redact_returns_clean_values_unchanged() -> None:
    value = {"messages": [AIMessage(content="hi")], "n": [1, 2, ("x", "y")]}
    assert redact(value) is value
