"""ThinkSplitter / split_think: inline <think> reasoning split from streamed text."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.backends.think import Channel, ThinkSplitter, split_think

R1_0528 = (
    "<think>\nThe user wants 17 * 23. 17 * 20 = 340, 17 * 3 = 51, so 391.\n</think>\n\n"
    "17 × 23 = **391**."
)
DISTILL = (  # the template already opened <think>: the output starts mid-thought
    "Okay, so I need to find the derivative of x^2.\n\nUsing the power rule, 2x.\n"
    "</think>\n\nThe derivative is $2x$."
)


def _cut(text: str, cuts: Iterable[int]) -> list[str]:
    points = sorted({c for c in cuts if 0 < c < len(text)})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _stream(
    chunks: Sequence[str], *, starts_in_thought: bool = False
) -> tuple[ThinkSplitter, list[tuple[Channel, str]]]:
    splitter = ThinkSplitter(starts_in_thought=starts_in_thought)
    pieces: list[tuple[Channel, str]] = []
    for chunk in chunks:
        pieces += splitter.feed(chunk)
    pieces += splitter.flush(thought_cut_off=starts_in_thought)
    return splitter, pieces


def _joined(pieces: list[tuple[Channel, str]], channel: Channel) -> str:
    return "".join(text for ch, text in pieces if ch == channel)


def _final(splitter: ThinkSplitter) -> tuple[str, str, bool, bool, bool]:
    return (
        splitter.reasoning,
        splitter.content,
        splitter.saw_open_tag,
        splitter.saw_close_tag,
        splitter.thinking_skipped,
    )


# ------------------------------------------------------------------ basic splitting


def test_r1_0528_output_splits_into_reasoning_and_answer() -> None:
    splitter, pieces = _stream([R1_0528])
    assert splitter.reasoning.startswith("The user wants 17 * 23.")
    assert splitter.reasoning.endswith("so 391.")
    assert splitter.content == "17 × 23 = **391**."
    assert splitter.saw_open_tag and splitter.saw_close_tag
    assert not splitter.thinking_skipped
    assert pieces == [("reasoning", splitter.reasoning), ("content", splitter.content)]


@pytest.mark.parametrize("starts_in_thought", [False, True])
@pytest.mark.parametrize("transcript", [R1_0528, DISTILL], ids=["r1-0528", "distill"])
def test_every_single_and_double_split_point_gives_the_same_result(
    transcript: str, starts_in_thought: bool
) -> None:
    whole, _ = _stream([transcript], starts_in_thought=starts_in_thought)
    n = len(transcript)
    for i in range(1, n):
        splitter, _ = _stream(_cut(transcript, [i]), starts_in_thought=starts_in_thought)
        assert _final(splitter) == _final(whole), i
    tag_zone = [
        *range(0, 12),
        *range(transcript.index("</think>") - 2, transcript.index("</think>") + 12),
    ]
    for i in tag_zone:
        for j in tag_zone:
            splitter, pieces = _stream(
                _cut(transcript, [i, j]), starts_in_thought=starts_in_thought
            )
            assert _final(splitter) == _final(whole), (i, j)
            if not splitter.recovered:
                assert _joined(pieces, "reasoning") == splitter.reasoning
            assert _joined(pieces, "content") == splitter.content


def test_one_character_chunks_never_show_a_tag() -> None:
    splitter, pieces = _stream(list(R1_0528))
    assert all(text for _, text in pieces)
    assert not any("<" in text or ">" in text for _, text in pieces)
    assert _joined(pieces, "reasoning") == splitter.reasoning
    assert _joined(pieces, "content") == splitter.content == "17 × 23 = **391**."


def test_tag_split_into_three_deltas_like_pydantic_ai_issue() -> None:
    # pydantic-ai only recognises <think> when it arrives as one delta (ANCHORS §2).
    splitter, pieces = _stream(["<", "think", ">", "hmm", "</", "think", ">", "Hi"])
    assert pieces == [("reasoning", "hmm"), ("content", "Hi")]
    assert (splitter.reasoning, splitter.content) == ("hmm", "Hi")


# ------------------------------------------------------------------ holding back


def test_only_a_possible_tag_prefix_is_held_back_and_released_once_it_cannot_be_one() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>step one <") == [("reasoning", "step one")]
    assert splitter.feed("/thi") == []
    assert splitter.feed("s is not a tag") == [("reasoning", " </this is not a tag")]


def test_inside_the_thought_an_opening_tag_prefix_is_not_held() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>compare a <th") == [("reasoning", "compare a <th")]


def test_text_that_looks_like_an_opening_tag_is_released_then_recovered_as_content() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<th") == []
    assert splitter.feed("e answer") == [("reasoning", "<the answer")]
    assert splitter.flush() == [("content", "<the answer")]
    assert (splitter.reasoning, splitter.content) == ("", "<the answer")
    assert splitter.recovered and not splitter.saw_open_tag


def test_flush_releases_a_partial_tag_as_text() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("Result: x </thi") == [("reasoning", "Result: x")]
    assert splitter.flush() == [("reasoning", " </thi"), ("content", "Result: x </thi")]
    assert splitter.content == "Result: x </thi"
    assert not splitter.saw_close_tag


def test_whitespace_only_chunks_yield_nothing_until_text_follows() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>a") == [("reasoning", "a")]
    assert splitter.feed("\n\n") == []
    assert splitter.feed("b") == [("reasoning", "\n\nb")]


# ------------------------------------------------------------------ whitespace


def test_leading_whitespace_before_the_opening_tag_is_accepted() -> None:
    assert split_think("\n\n  <think>plan</think>done") == ("plan", "done")


def test_whitespace_after_the_closing_tag_is_not_streamed() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>plan\n</think>\n\n") == [("reasoning", "plan")]
    assert splitter.feed("\n") == []
    assert splitter.feed("Answer\n") == [("content", "Answer")]
    assert splitter.flush() == []


# ------------------------------------------------------------------ opened by the template


def test_starts_in_thought_treats_text_as_reasoning_until_the_close() -> None:
    splitter, pieces = _stream(list(DISTILL), starts_in_thought=True)
    assert splitter.reasoning == (
        "Okay, so I need to find the derivative of x^2.\n\nUsing the power rule, 2x."
    )
    assert splitter.content == "The derivative is $2x$."
    assert not splitter.saw_open_tag and splitter.saw_close_tag
    assert not splitter.recovered
    assert _joined(pieces, "reasoning") == splitter.reasoning
    assert _joined(pieces, "content") == splitter.content


@pytest.mark.parametrize(
    "chunks", [["<think>\nwhy</think>ok"], ["<", "thi", "nk", ">\nwhy</think>ok"]]
)
def test_starts_in_thought_drops_a_redundant_opening_tag(chunks: list[str]) -> None:
    splitter, pieces = _stream(chunks, starts_in_thought=True)
    assert pieces == [("reasoning", "why"), ("content", "ok")]
    assert splitter.saw_open_tag


def test_starts_in_thought_keeps_text_that_only_resembles_the_tag() -> None:
    assert split_think("<thinking aloud</think>ok", starts_in_thought=True) == (
        "<thinking aloud",
        "ok",
    )


def test_starts_in_thought_with_no_close_is_all_reasoning() -> None:
    assert split_think("still thinking", starts_in_thought=True) == ("still thinking", "")


def test_assumed_thought_that_ends_normally_without_a_close_was_the_answer() -> None:
    # Issue 12.1: a template that opens <think> is a guess about the output, not a fact;
    # a reply that stops normally without </think> (JSON "{}") is the answer.
    splitter = ThinkSplitter(starts_in_thought=True)
    assert splitter.feed("{}") == [("reasoning", "{}")]
    assert splitter.flush(thought_cut_off=False) == [("content", "{}")]
    assert (splitter.reasoning, splitter.content, splitter.recovered) == ("", "{}", True)


def test_reasoning_elsewhere_makes_every_later_tag_literal_answer_text() -> None:
    # Issue 12.2: reasoning already arrived in a field; a </think> in the answer is text.
    splitter = ThinkSplitter(reasoning_elsewhere=True)
    pieces = splitter.feed("The tag is </think>, see") + splitter.flush()
    assert pieces == [("content", "The tag is </think>, see")]
    leading = ThinkSplitter(reasoning_elsewhere=True)
    assert leading.feed("</thi") == []
    assert leading.feed("nk>\n\nAnswer") + leading.flush() == [("content", "Answer")]


# ------------------------------------------------------------------ unpaired closing tag


def test_unpaired_close_hides_the_tag_and_text_before_it_was_never_shown_as_answer() -> None:
    # amd/gaia #3945: an unpaired </think> leaked into answers and history (ANCHORS §2);
    # issue 12.2 / 11: text before it must never have been streamed as answer text.
    splitter = ThinkSplitter()
    first = splitter.feed("Okay, the user asks")
    second = splitter.feed(" for 2+2.\n</think>\n\n4")
    rest = splitter.flush()
    assert first == [("reasoning", "Okay, the user asks")]
    assert second == [("reasoning", " for 2+2."), ("content", "4")]
    assert rest == []
    assert splitter.reasoning == "Okay, the user asks for 2+2."
    assert splitter.content == "4"
    assert splitter.saw_close_tag and not splitter.saw_open_tag and not splitter.recovered
    assert all("think>" not in text for _, text in first + second)


def test_distill_output_without_starts_in_thought_ends_up_classified_correctly() -> None:
    assert split_think(DISTILL) == split_think(DISTILL, starts_in_thought=True)


def test_close_tag_first_thing_is_an_empty_thought() -> None:
    splitter, pieces = _stream(["</think>\n\nHello"])
    assert pieces == [("content", "Hello")]
    assert splitter.thinking_skipped and not splitter.recovered


# ------------------------------------------------------------------ skipped / unfinished thought


@pytest.mark.parametrize("text", ["<think>\n\n</think>\n\nanswer", "<think></think>answer"])
def test_empty_thought_is_reported_as_skipped(text: str) -> None:
    # ollama #8837: R1 emits "<think>\n\n</think>" and skips thinking (ANCHORS §2).
    splitter, pieces = _stream(list(text))
    assert {channel for channel, _ in pieces} == {"content"}
    assert _joined(pieces, "content") == "answer"
    assert (splitter.reasoning, splitter.content) == ("", "answer")
    assert splitter.thinking_skipped


def test_empty_thought_from_the_template_is_reported_as_skipped() -> None:
    splitter, _ = _stream(["\n\n</think>\n\nanswer"], starts_in_thought=True)
    assert (splitter.reasoning, splitter.content, splitter.thinking_skipped) == ("", "answer", True)


def test_unclosed_thought_is_all_reasoning() -> None:
    # Budget exhausted (finish_reason=length): reasoning and no answer.
    splitter, pieces = _stream(["<think>\nLet me try ", "x = 3.", " Then y ="])
    assert pieces == [
        ("reasoning", "Let me try"),
        ("reasoning", " x = 3."),
        ("reasoning", " Then y ="),
    ]
    assert (splitter.reasoning, splitter.content) == ("Let me try x = 3. Then y =", "")
    assert splitter.saw_open_tag and not splitter.saw_close_tag
    assert not splitter.thinking_skipped


def test_no_tags_at_all_is_plain_content() -> None:
    splitter, _ = _stream(["  Just", " an answer.  "])
    assert (splitter.reasoning, splitter.content) == ("", "Just an answer.")
    assert not (splitter.saw_open_tag or splitter.saw_close_tag or splitter.thinking_skipped)


# ------------------------------------------------------------------ literal tags


def test_opening_tag_after_answer_text_is_literal() -> None:
    text = "Wrap the plan in <think> tags, then close with </think>."
    splitter, pieces = _stream(list(text))
    assert (splitter.reasoning, splitter.content) == ("", text)
    assert _joined(pieces, "content") == text
    assert splitter.recovered and not (splitter.saw_open_tag or splitter.saw_close_tag)


def test_only_the_first_think_block_is_recognised() -> None:
    assert split_think("<think>a</think>b <think>c</think> d") == ("a", "b <think>c</think> d")


def test_code_after_the_thought_survives_intact() -> None:
    # smolagents: R1 <think> blocks broke the CodeAgent parser (ANCHORS §2).
    code = "```python\nprint('<think>')\n```"
    assert split_think(f"<think>write code</think>\n{code}\n") == ("write code", code)


# ------------------------------------------------------------------ lifecycle


def test_feed_after_flush_is_an_error_and_flush_is_idempotent() -> None:
    splitter = ThinkSplitter()
    splitter.feed("<think>x")
    assert splitter.flush() == []
    assert splitter.flush() == []
    with pytest.raises(ValueError, match="after flush"):
        splitter.feed("more")


def test_empty_feed_returns_nothing() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("") == []
    assert splitter.flush() == []
    assert (splitter.reasoning, splitter.content) == ("", "")


def test_one_megabyte_in_one_character_chunks_is_linear() -> None:
    body = "Consider the next step carefully, < not a tag > and so on.\n" * 17_000
    text = f"<think>{body}</think>\n\n{body}"
    assert len(text) > 1_000_000
    splitter = ThinkSplitter()
    start = time.perf_counter()
    for ch in text:
        splitter.feed(ch)
    splitter.flush()
    elapsed = time.perf_counter() - start
    assert splitter.reasoning == body.strip() == splitter.content
    assert elapsed < 30, f"{elapsed:.1f}s: feeding is not linear in the text length"


# ------------------------------------------------------------------ properties

_ALPHABET = "<>/thinkab \n｜▁"
_FRAGMENTS = st.sampled_from(["<think>", "</think>", "<th", "</", "\n\n", " ", "x", "answer"])
_TRANSCRIPTS = st.lists(_FRAGMENTS | st.text(alphabet=_ALPHABET, max_size=6), max_size=12).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(
    text=_TRANSCRIPTS,
    cuts=st.lists(st.integers(min_value=1, max_value=80), max_size=10),
    starts_in_thought=st.booleans(),
)
def test_any_rechunking_gives_identical_results(
    text: str, cuts: list[int], starts_in_thought: bool
) -> None:
    whole, whole_pieces = _stream([text], starts_in_thought=starts_in_thought)
    chunked, pieces = _stream(_cut(text, cuts), starts_in_thought=starts_in_thought)
    assert _final(chunked) == _final(whole)
    assert (whole.reasoning, whole.content) == split_think(
        text, starts_in_thought=starts_in_thought
    )
    for splitter, streamed in ((whole, whole_pieces), (chunked, pieces)):
        assert all(piece for _, piece in streamed)
        assert _joined(streamed, "content") == splitter.content
        if splitter.recovered:
            assert splitter.reasoning == ""
        else:
            assert _joined(streamed, "reasoning") == splitter.reasoning
        assert splitter.reasoning == splitter.reasoning.strip()
        assert splitter.content == splitter.content.strip()


@settings(max_examples=200, deadline=None)
@given(
    reasoning=st.text(alphabet="ab \n<>/", max_size=30).filter(lambda s: "</think>" not in s),
    answer=st.text(alphabet="ab \n<>/think", max_size=30),
    cuts=st.lists(st.integers(min_value=1, max_value=80), max_size=8),
)
def test_a_well_formed_block_splits_exactly(reasoning: str, answer: str, cuts: list[int]) -> None:
    text = f"<think>{reasoning}</think>{answer}"
    splitter, pieces = _stream(_cut(text, cuts))
    assert splitter.reasoning == reasoning.strip()
    assert splitter.content == answer.strip()
    assert _joined(pieces, "reasoning") == reasoning.strip()
    assert splitter.thinking_skipped == (not reasoning.strip())


@settings(max_examples=300, deadline=None)
@given(text=st.text(), starts_in_thought=st.booleans())
def test_arbitrary_text_never_raises(text: str, starts_in_thought: bool) -> None:
    splitter, pieces = _stream([text], starts_in_thought=starts_in_thought)
    assert _joined(pieces, "content") == splitter.content
