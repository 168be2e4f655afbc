"""R1ToolCallParser / parse_r1_tool_calls: DeepSeek-R1 raw tool-call tokens in streamed text."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.backends.r1_tools import R1ToolCallParser, RawToolCall, parse_r1_tool_calls
from ponder.backends.think import ThinkSplitter

CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
CALLS_END = "<｜tool▁calls▁end｜>"
CALL_BEGIN = "<｜tool▁call▁begin｜>"
CALL_END = "<｜tool▁call▁end｜>"
SEP = "<｜tool▁sep｜>"
EOS = "<｜end▁of▁sentence｜>"


def _r1_call(name: str, args: str) -> str:
    return f"{CALL_BEGIN}function{SEP}{name}\n```json\n{args}\n```{CALL_END}"


WEATHER = RawToolCall(0, "get_weather", '{"city": "Paris"}')
TIME = RawToolCall(1, "get_time", '{"tz": "Europe/Paris"}')
R1_TOOLS = (
    "I'll look both up.\n\n"
    + CALLS_BEGIN
    + _r1_call(WEATHER.name, WEATHER.arguments)
    + "\n"
    + _r1_call(TIME.name, TIME.arguments)
    + CALLS_END
    + EOS
)


def _cut(text: str, cuts: Iterable[int]) -> list[str]:
    points = sorted({c for c in cuts if 0 < c < len(text)})
    return [text[a:b] for a, b in itertools.pairwise([0, *points, len(text)])]


def _stream(chunks: Sequence[str]) -> tuple[R1ToolCallParser, list[str | RawToolCall]]:
    parser = R1ToolCallParser()
    items: list[str | RawToolCall] = []
    for chunk in chunks:
        items += parser.feed(chunk)
    items += parser.flush()
    return parser, items


def _merged(items: list[str | RawToolCall]) -> list[str | RawToolCall]:
    """The event sequence with adjacent content pieces joined (chunking-independent)."""
    out: list[str | RawToolCall] = []
    for item in items:
        if isinstance(item, str) and out and isinstance(out[-1], str):
            out[-1] += item
        else:
            out.append(item)
    return out


# ------------------------------------------------------------------ the R1-0528 shape


def test_r1_0528_transcript_gives_content_then_two_calls() -> None:
    parser, items = _stream([R1_TOOLS])
    assert items == ["I'll look both up.", WEATHER, TIME]
    assert parser.saw_tool_calls
    assert parse_r1_tool_calls(R1_TOOLS) == ("I'll look both up.", [WEATHER, TIME])
    assert json.loads(WEATHER.arguments) == {"city": "Paris"}


def test_each_call_is_emitted_as_soon_as_its_end_marker_arrives() -> None:
    parser = R1ToolCallParser()
    first_end = R1_TOOLS.index(CALL_END) + len(CALL_END)
    second_end = R1_TOOLS.index(CALL_END, first_end) + len(CALL_END)
    emitted_at: dict[int, int] = {}
    for position, ch in enumerate(R1_TOOLS, start=1):
        for item in parser.feed(ch):
            if isinstance(item, RawToolCall):
                emitted_at[item.index] = position
    assert parser.flush() == []
    assert emitted_at == {0: first_end, 1: second_end}


def test_content_before_the_opener_streams_through() -> None:
    parser = R1ToolCallParser()
    assert parser.feed("Checking the weather") == ["Checking the weather"]
    assert parser.feed(" now.\n\n<｜tool") == [" now."]
    assert parser.feed("▁calls▁begin｜>") == []
    assert parser.saw_tool_calls


@pytest.mark.parametrize("transcript", [R1_TOOLS, R1_TOOLS.replace("▁", "\\_")])
def test_every_single_split_point_gives_the_same_events(transcript: str) -> None:
    _, whole = _stream([transcript])
    for i in range(1, len(transcript)):
        _, items = _stream(_cut(transcript, [i]))
        assert _merged(items) == whole, i


def test_one_character_chunks_never_leak_a_marker() -> None:
    _, items = _stream(list(R1_TOOLS))
    content = [item for item in items if isinstance(item, str)]
    assert "".join(content) == "I'll look both up."
    assert not any("<" in piece or "｜" in piece for piece in content)
    assert [item for item in items if isinstance(item, RawToolCall)] == [WEATHER, TIME]


# ------------------------------------------------------------------ holding back


def test_only_a_possible_marker_prefix_is_held_back() -> None:
    parser = R1ToolCallParser()
    assert parser.feed("a < b and x <｜tool") == ["a < b and x"]
    assert parser.feed("box｜> done") == [" <｜toolbox｜> done"]
    assert parser.flush() == []


def test_html_like_text_is_released_at_once() -> None:
    parser = R1ToolCallParser()
    assert parser.feed("use <b>bold</b> and <|im_start|>") == ["use <b>bold</b> and <|im_start|>"]


def test_partial_marker_cut_off_at_the_end_is_dropped() -> None:
    assert parse_r1_tool_calls("The answer is 4. <｜tool▁ca") == ("The answer is 4.", [])
    assert parse_r1_tool_calls("The answer is 4. <｜end▁of") == ("The answer is 4.", [])


def test_a_lone_angle_bracket_at_the_end_is_text() -> None:
    assert parse_r1_tool_calls("x <") == ("x <", [])


# ------------------------------------------------------------------ end of sentence


@pytest.mark.parametrize(
    "text",
    [f"Hello{EOS}", f"Hel{EOS}lo", f"{EOS}Hello", "Hello<|end_of_sentence|>"],
)
def test_end_of_sentence_is_removed_anywhere_in_content(text: str) -> None:
    assert parse_r1_tool_calls(text) == ("Hello", [])


def test_end_of_sentence_inside_a_call_is_removed() -> None:
    text = f"{CALLS_BEGIN}{CALL_BEGIN}function{SEP}f\n```json\n{{}}\n```{EOS}{CALL_END}"
    assert parse_r1_tool_calls(text) == ("", [RawToolCall(0, "f", "{}")])


# ------------------------------------------------------------------ variant spellings


@pytest.mark.parametrize(
    "opener",
    [
        "<｜tool▁calls▁begin｜>",
        "<｜tool_calls_begin｜>",
        "<｜tool calls begin｜>",
        "<｜tool\\_calls\\_begin｜>",
        "<｜tool▁calls｜>",
        "<|tool▁calls▁begin|>",
        "<|tool_calls_begin|>",
    ],
)
def test_variant_openers_are_accepted(opener: str) -> None:
    text = f"Sure.{opener}{_r1_call('f', '{}')}{CALLS_END}"
    for chunks in ([text], list(text)):
        _, items = _stream(chunks)
        assert _merged(items) == ["Sure.", RawToolCall(0, "f", "{}")]


@pytest.mark.parametrize("sep", ["_", " ", "\\_"])
@pytest.mark.parametrize("bar", ["｜", "|"])
def test_separator_and_bar_variants_are_accepted_in_every_marker(sep: str, bar: str) -> None:
    text = R1_TOOLS.replace("▁", sep).replace("｜", bar)
    for chunks in ([text], list(text)):
        _, items = _stream(chunks)
        assert _merged(items) == ["I'll look both up.", WEATHER, TIME]


# ------------------------------------------------------------------ V3.1 shape


def test_v31_shape_without_function_prefix_or_fence() -> None:
    text = (
        f'{CALLS_BEGIN}{CALL_BEGIN}search{SEP}{{"q": "R1"}}{CALL_END}'
        f'{CALL_BEGIN}fetch{SEP}{{"url": "x"}}{CALL_END}{CALLS_END}'
    )
    assert parse_r1_tool_calls(text) == (
        "",
        [RawToolCall(0, "search", '{"q": "R1"}'), RawToolCall(1, "fetch", '{"url": "x"}')],
    )


def test_v31_tool_named_function_is_not_mistaken_for_the_r1_prefix() -> None:
    text = f'{CALL_BEGIN}function{SEP}{{"a": 1}}{CALL_END}'
    assert parse_r1_tool_calls(text) == ("", [RawToolCall(0, "function", '{"a": 1}')])


def test_a_call_begin_without_the_block_opener_still_starts_tool_calls() -> None:
    parser, items = _stream([f"Hi{CALL_BEGIN}f{SEP}{{}}{CALL_END}"])
    assert items == ["Hi", RawToolCall(0, "f", "{}")]
    assert parser.saw_tool_calls


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    "body",
    [
        'f\n```json\n{"a": 1}\n```',
        'f\n```\n{"a": 1}\n```',
        'f\n{"a": 1}',
        '  f  \n\n```json\n  {"a": 1}  \n```\n',
        'f```json{"a": 1}```',
    ],
)
def test_fence_and_surrounding_whitespace_are_stripped(body: str) -> None:
    text = f"{CALLS_BEGIN}{CALL_BEGIN}function{SEP}{body}{CALL_END}{CALLS_END}"
    assert parse_r1_tool_calls(text) == ("", [RawToolCall(0, "f", '{"a": 1}')])


def test_arguments_are_not_validated() -> None:
    text = f"{CALLS_BEGIN}{_r1_call('f', '{not json')}{CALLS_END}"
    assert parse_r1_tool_calls(text)[1] == [RawToolCall(0, "f", "{not json")]


# ------------------------------------------------------------------ text around calls


def test_whitespace_between_and_after_calls_is_not_content() -> None:
    text = f"{CALLS_BEGIN}\n{_r1_call('a', '{}')}\n\n  {_r1_call('b', '{}')}\n{CALLS_END}\n\n{EOS}"
    _, items = _stream(list(text))
    assert items == [RawToolCall(0, "a", "{}"), RawToolCall(1, "b", "{}")]


def test_text_after_the_block_is_content_again() -> None:
    text = f"Before.\n{CALLS_BEGIN}{_r1_call('a', '{}')}{CALLS_END}\nAfter."
    _, items = _stream([text])
    # The whitespace on both sides of the block keeps the two texts apart.
    assert items == ["Before.", RawToolCall(0, "a", "{}"), "\n\nAfter."]


def test_stray_markers_outside_a_block_are_dropped() -> None:
    assert parse_r1_tool_calls(f"a{SEP}b{CALL_END}c{CALLS_END}d") == ("abcd", [])


def test_stray_text_inside_a_block_becomes_content_rather_than_being_lost() -> None:
    text = f"{CALLS_BEGIN}oops{_r1_call('a', '{}')}{CALL_BEGIN}no separator{CALL_END}{CALLS_END}"
    _, items = _stream([text])
    assert items == ["oops", RawToolCall(0, "a", "{}"), "no separator"]


# ------------------------------------------------------------------ unterminated blocks


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (
            'function<｜tool▁sep｜>get_weather\n```json\n{"city": "Par',
            [RawToolCall(0, "get_weather", '{"city": "Par')],
        ),
        ("function<｜tool▁sep｜>get_weather\n```js", [RawToolCall(0, "get_weather", "")]),
        ("function<｜tool▁sep｜>get_wea", [RawToolCall(0, "get_wea", "")]),
        ("function<｜tool▁se", []),
        ("function", []),
        ("", []),
    ],
)
def test_unterminated_block_recovers_what_it_can(tail: str, expected: list[RawToolCall]) -> None:
    text = f"Calling.{CALLS_BEGIN}{_r1_call('first', '{}')}{CALL_BEGIN}{tail}"
    parser, items = _stream(list(text))
    assert _merged(items) == ["Calling.", RawToolCall(0, "first", "{}")] + [
        RawToolCall(1, c.name, c.arguments) for c in expected
    ]
    assert parser.saw_tool_calls


def test_unterminated_call_without_separator_keeps_its_text_as_content() -> None:
    assert parse_r1_tool_calls(f"{CALLS_BEGIN}{CALL_BEGIN}gibberish") == ("gibberish", [])


def test_a_new_call_begin_closes_an_unterminated_call() -> None:
    text = f"{CALLS_BEGIN}{CALL_BEGIN}a{SEP}{{}}{CALL_BEGIN}b{SEP}{{}}{CALL_END}{CALLS_END}"
    assert parse_r1_tool_calls(text)[1] == [RawToolCall(0, "a", "{}"), RawToolCall(1, "b", "{}")]


# ------------------------------------------------------------------ lifecycle and pipeline


def test_feed_after_flush_is_an_error_and_flush_is_idempotent() -> None:
    parser = R1ToolCallParser()
    parser.feed("x")
    assert parser.flush() == []
    assert parser.flush() == []
    with pytest.raises(ValueError, match="after flush"):
        parser.feed("y")


def test_plain_answer_has_no_tool_calls() -> None:
    parser, items = _stream(["  The answer", " is 4.\n"])
    assert items == ["The answer", " is 4."]
    assert not parser.saw_tool_calls


def test_r1_0528_output_through_think_splitter_then_tool_parser() -> None:
    raw = "<think>\nNeed weather and time for Paris. Two calls.\n</think>\n\n" + R1_TOOLS
    for chunks in ([raw], list(raw), _cut(raw, range(0, len(raw), 7))):
        splitter, tools = ThinkSplitter(), R1ToolCallParser()
        reasoning: list[str] = []
        items: list[str | RawToolCall] = []
        for chunk in [*chunks, None]:
            pieces = splitter.flush() if chunk is None else splitter.feed(chunk)
            for channel, text in pieces:
                if channel == "reasoning":
                    reasoning.append(text)
                else:
                    items += tools.feed(text)
        items += tools.flush()
        assert "".join(reasoning) == "Need weather and time for Paris. Two calls."
        assert _merged(items) == ["I'll look both up.", WEATHER, TIME]


def test_one_megabyte_in_one_character_chunks_is_linear() -> None:
    unit = "Some content with < and | and ｜ in it.\n" + _r1_call("f", '{"k": "v"}')
    text = (unit * (1_000_000 // len(unit) + 1))[:1_000_000]
    parser = R1ToolCallParser()
    start = time.perf_counter()
    calls = 0
    for ch in text:
        calls += sum(isinstance(item, RawToolCall) for item in parser.feed(ch))
    parser.flush()
    elapsed = time.perf_counter() - start
    assert calls >= 1_000_000 // len(unit) - 1
    assert elapsed < 30, f"{elapsed:.1f}s: feeding is not linear in the text length"


# ------------------------------------------------------------------ properties

_MARKERS = [
    CALLS_BEGIN,
    CALLS_END,
    CALL_BEGIN,
    CALL_END,
    SEP,
    EOS,
    "<｜tool▁calls｜>",
    "<|tool_sep|>",
]
_SAFE_TEXT = st.text(alphabet='ab{}": \n`json', max_size=8)
_TRANSCRIPTS = st.lists(st.sampled_from(_MARKERS) | _SAFE_TEXT, max_size=14).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_TRANSCRIPTS, cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=12))
def test_any_rechunking_gives_identical_events(text: str, cuts: list[int]) -> None:
    parser, whole = _stream([text])
    chunked_parser, items = _stream(_cut(text, cuts))
    assert _merged(items) == _merged(whole)
    assert chunked_parser.saw_tool_calls == parser.saw_tool_calls
    content, calls = parse_r1_tool_calls(text)
    assert content == "".join(item for item in items if isinstance(item, str))
    assert content == content.strip()
    assert calls == [item for item in items if isinstance(item, RawToolCall)]
    assert [call.index for call in calls] == list(range(len(calls)))
    for item in items:
        if isinstance(item, str):
            assert item and "<" not in item and "｜" not in item and "|" not in item


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="<>｜|▁_ \\/thinkoolcasbegendsep", max_size=60)
    | st.lists(st.sampled_from(_MARKERS) | st.text(max_size=5), max_size=10).map("".join),
    cuts=st.lists(st.integers(min_value=1, max_value=60), max_size=8),
)
def test_arbitrary_text_never_raises_and_chunking_does_not_matter(
    text: str, cuts: list[int]
) -> None:
    _, whole = _stream([text])
    _, items = _stream(_cut(text, cuts))
    assert _merged(items) == _merged(whole)
    assert all(item for item in items)
