"""SSE decoding: byte-split robustness, OpenAI conventions, and failure modes."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.backends.errors import (
    BackendError,
    BrokenStreamError,
    ProtocolError,
    RateLimitError,
)
from ponder.backends.sse import SSEDecoder, SSEEvent, SSEJsonStream
from ponder.backends.wire import error_from_payload


def _decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + decoder.close()


def _json_stream(chunks: list[bytes]) -> list[dict[str, object]]:
    stream = SSEJsonStream(on_error=lambda e: error_from_payload(e, provider="test"))
    payloads = [p for chunk in chunks for p in stream.feed(chunk)]
    return payloads + stream.close()


def _split_every_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_line_endings_comments_and_multiline_data() -> None:
    data = (
        b": keep-alive\r\n\r\n"
        b"data: one\r\n\r\n"
        b"event: update\nid: 7\ndata: two\ndata:three\n\n"
        b"data: four\r\rdata: five\n\n"
    )
    expected = [
        SSEEvent("one"),
        SSEEvent("two\nthree", event="update", id="7"),
        SSEEvent("four", id="7"),
        SSEEvent("five", id="7"),
    ]
    assert _decode([data]) == expected
    assert _decode(_split_every_byte(data)) == expected


def test_cr_at_chunk_end_waits_for_possible_lf() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == []
    assert decoder.feed(b"\n") == [SSEEvent("a")]


def test_bom_is_skipped_even_when_split() -> None:
    assert _decode([b"\xef", b"\xbb", b"\xbfdata: x\n\n"]) == [SSEEvent("x")]


def test_unterminated_event_is_dispatched_at_close_but_partial_line_dropped() -> None:
    assert _decode([b"data: whole\n"]) == [SSEEvent("whole")]
    assert _decode([b"data: whole\ndata: trunc"]) == [SSEEvent("whole")]


def test_json_stream_done_and_usage_only_chunk() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
    usage = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    data = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode()
    assert _json_stream([data]) == [chunk, usage]


def test_nothing_after_done_is_read() -> None:
    data = b'data: {"a": 1}\n\ndata: [DONE]\n\ndata: not json\n\n'
    assert _json_stream([data]) == [{"a": 1}]


def test_missing_done_is_a_broken_stream() -> None:
    with pytest.raises(BrokenStreamError, match=r"\[DONE\]"):
        _json_stream([b'data: {"a": 1}\n\n'])


def test_invalid_json_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid JSON"):
        _json_stream([b"data: {oops\n\n"])
    with pytest.raises(ProtocolError, match="not an object"):
        _json_stream([b"data: [1, 2]\n\n"])


def test_invalid_utf8_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="UTF-8"):
        _decode([b"data: \xff\xfe\n\n"])


def test_mid_stream_error_object_is_typed() -> None:
    data = b'data: {"error": {"code": 429, "message": "slow down"}}\n\n'
    with pytest.raises(RateLimitError, match="slow down"):
        _json_stream([data])
    with pytest.raises(BrokenStreamError, match="overloaded"):
        _json_stream([b'data: {"error": {"message": "overloaded"}}\n\n'])
    # Without a mapper the error is a broken stream.
    with pytest.raises(BrokenStreamError):
        SSEJsonStream().feed(b'data: {"error": "boom"}\n\n')


_payloads = st.lists(
    st.dictionaries(
        st.text(min_size=1, max_size=5),
        st.one_of(st.integers(), st.text(max_size=20), st.none()),
        max_size=3,
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(payloads=_payloads, cuts=st.lists(st.integers(min_value=0), max_size=12), crlf=st.booleans())
def test_any_rechunking_yields_the_same_payloads(
    payloads: list[dict[str, object]], cuts: list[int], crlf: bool
) -> None:
    newline = "\r\n" if crlf else "\n"
    text = (
        "".join(f": ping{newline}data: {json.dumps(p)}{newline}{newline}" for p in payloads)
        + f"data: [DONE]{newline}{newline}"
    )
    data = text.encode()
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert _json_stream(chunks) == payloads


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0), max_size=6))
def test_random_bytes_only_raise_protocol_or_broken_stream(data: bytes, cuts: list[int]) -> None:
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    try:
        _json_stream(chunks)
    except (ProtocolError, BrokenStreamError):
        pass
    except BackendError as exc:
        pytest.fail(f"unexpected {type(exc).__name__}: {exc}")


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list('data: x\r\n{}[]DONE"1')), max_size=200),
)
def test_sse_like_text_only_raises_protocol_or_broken_stream(text: str) -> None:
    with contextlib.suppress(ProtocolError, BrokenStreamError):
        _json_stream(_split_every_byte(text.encode()))
