"""DsmlToolCallParser: DeepSeek V3.2 / V4 DSML tool calls split from streamed text."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.backends.dsml_tools import (
    DsmlToolCallParser,
    encode_dsml_tool_calls,
    parse_dsml_tool_calls,
)
from ponder.backends.r1_tools import RawToolCall

# DeepSeek's encoding_dsv32.py output shape (tool_calls_template / tool_call_template).
V32 = (
    "I'll look both up.\n\n<｜DSML｜function_calls>\n"
    '<｜DSML｜invoke name="get_weather">\n'
    '<｜DSML｜parameter name="city" string="true">San Francisco</｜DSML｜parameter>\n'
    '<｜DSML｜parameter name="days" string="false">3</｜DSML｜parameter>\n'
    "</｜DSML｜invoke>\n"
    '<｜DSML｜invoke name="search">\n'
    '<｜DSML｜parameter name="filters" string="false">{"lang": ["en", "fr"]}</｜DSML｜parameter>\n'
    "</｜DSML｜invoke>\n"
    "</｜DSML｜function_calls>"
)
V4 = V32.replace("function_calls", "tool_calls")
EXPECTED = [
    ("get_weather", {"city": "San Francisco", "days": 3}),
    ("search", {"filters": {"lang": ["en", "fr"]}}),
]


def _cut(text: str, cuts: Iterable[int]) -> list[str]:
    points = sorted({c for c in cuts if 0 < c < len(text)})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _run(chunks: Sequence[str]) -> tuple[str, list[RawToolCall]]:
    parser = DsmlToolCallParser()
    items: list[str | RawToolCall] = []
    for chunk in chunks:
        items += parser.feed(chunk)
    items += parser.flush()
    assert all(item for item in items if isinstance(item, str))
    content = "".join(item for item in items if isinstance(item, str))
    return content, [item for item in items if isinstance(item, RawToolCall)]


def _decoded(calls: list[RawToolCall]) -> list[tuple[str, object]]:
    return [(call.name, json.loads(call.arguments)) for call in calls]


@pytest.mark.parametrize("text", [V32, V4], ids=["v3.2", "v4"])
def test_v32_and_v4_blocks_give_content_then_calls(text: str) -> None:
    content, calls = parse_dsml_tool_calls(text)
    assert content == "I'll look both up."
    assert _decoded(calls) == EXPECTED
    assert [c.index for c in calls] == [0, 1]


@pytest.mark.parametrize("text", [V32, V4], ids=["v3.2", "v4"])
def test_markers_split_at_every_position_give_the_same_result(text: str) -> None:
    whole = _run([text])
    for i in range(1, len(text)):
        assert _run(_cut(text, [i])) == whole, i


def test_one_character_chunks_never_leak_markup() -> None:
    content, calls = _run(list(V4))
    assert content == "I'll look both up." and _decoded(calls) == EXPECTED


@pytest.mark.parametrize("bar", ["｜", "|"])
def test_ascii_and_fullwidth_bars_and_short_closing_tags(bar: str) -> None:
    text = (
        f'<{bar}DSML{bar}tool_calls>\n<{bar}DSML{bar}invoke name="f">\n'
        f'<{bar}DSML{bar}parameter name="a" string="true">x</parameter>\n'
        f"</invoke>\n</{bar}DSML{bar}tool_calls>"
    )
    assert _decoded(_run(list(text))[1]) == [("f", {"a": "x"})]


def test_an_invoke_may_carry_a_json_object_instead_of_parameters() -> None:
    text = '<｜DSML｜function_calls>\n<｜DSML｜invoke name="f">\n{"a": 1}\n</｜DSML｜invoke>'
    content, calls = parse_dsml_tool_calls(text + "\n</｜DSML｜function_calls>")
    assert (content, _decoded(calls)) == ("", [("f", {"a": 1})])


def test_a_bad_json_value_stays_bad_for_the_caller_to_report() -> None:
    text = (
        '<｜DSML｜tool_calls><｜DSML｜invoke name="f">'
        '<｜DSML｜parameter name="n" string="false">not json</｜DSML｜parameter>'
        "</｜DSML｜invoke></｜DSML｜tool_calls>"
    )
    (call,) = parse_dsml_tool_calls(text)[1]
    assert call.arguments == '{"n": not json}'


def test_string_values_keep_their_text_exactly() -> None:
    value = 'if a < b and c > d: print("</x>")\n'
    text = encode_dsml_tool_calls([("run", json.dumps({"code": value}))])
    assert _decoded(parse_dsml_tool_calls(text)[1]) == [("run", {"code": value})]


def test_unterminated_block_recovers_a_call_whose_name_arrived() -> None:
    text = (
        '<｜DSML｜tool_calls>\n<｜DSML｜invoke name="f">\n'
        '<｜DSML｜parameter name="a" string="true">v'
    )
    assert _decoded(parse_dsml_tool_calls(text)[1]) == [("f", {"a": "v"})]


def test_plain_xml_and_html_are_content() -> None:
    text = 'Use <invoke name="x"> and <b>bold</b> or </parameter> freely.'
    assert parse_dsml_tool_calls(text) == (text, [])


def test_a_partial_tag_is_held_back_only_while_it_could_be_one() -> None:
    parser = DsmlToolCallParser()
    assert parser.feed("a <｜DS") == ["a"]
    assert parser.feed("Q is not") == [" <｜DSQ is not"]
    assert parser.feed(' <｜DSML｜invoke name="f') == []
    assert parser.feed('">{}</｜DSML｜invoke>') == [RawToolCall(0, "f", "{}")]


def test_feed_after_flush_is_an_error_and_flush_is_idempotent() -> None:
    parser = DsmlToolCallParser()
    assert parser.feed("x <｜DSML") == ["x"]
    assert parser.flush() == [" <｜DSML"]
    assert parser.flush() == []
    with pytest.raises(ValueError, match="after flush"):
        parser.feed("more")


_CALLS = st.lists(
    st.tuples(
        st.sampled_from(["get_weather", "run", "f"]),
        st.dictionaries(
            st.sampled_from(["city", "n", "code", "opts"]),
            st.text(alphabet="ab <>/|｜\n\"'", max_size=8)
            | st.integers()
            | st.lists(st.integers(), max_size=3),
            max_size=3,
        ),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(alphabet="xy <>|\n", max_size=12),
    calls=_CALLS,
    block=st.sampled_from(["tool_calls", "function_calls"]),
    ascii_bars=st.booleans(),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12),
)
def test_encoded_calls_round_trip_under_any_chunking(
    before: str,
    calls: list[tuple[str, dict[str, object]]],
    block: str,
    ascii_bars: bool,
    cuts: list[int],
) -> None:
    markup = encode_dsml_tool_calls([(n, json.dumps(a)) for n, a in calls], block=block)
    if ascii_bars:
        markup = markup.replace("｜DSML｜", "|DSML|")
    text = before + "\n" + markup
    content, parsed = _run(_cut(text, cuts))
    assert _decoded(parsed) == [(n, a) for n, a in calls]
    assert content == before.strip()
    assert "DSML" not in content


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(["<｜DSML｜", "</｜DSML｜", "invoke", ' name="f">', "parameter", ">", "<"])
        | st.text(max_size=5),
        max_size=14,
    ).map("".join),
    cuts=st.lists(st.integers(min_value=1, max_value=80), max_size=8),
)
def test_arbitrary_text_never_raises_and_chunking_does_not_matter(
    text: str, cuts: list[int]
) -> None:
    assert _run(_cut(text, cuts)) == _run([text])
