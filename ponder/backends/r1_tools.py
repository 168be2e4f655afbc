"""Streaming parser for DeepSeek-R1's raw tool-call tokens.

For engines that return the model's raw text instead of OpenAI-style
``tool_calls``. The R1-0528 shape (fullwidth ``｜`` and ``▁``)::

    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME
    ```json
    {ARGS}
    ```<｜tool▁call▁end｜>
    <｜tool▁call▁begin｜>…<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>

The V3.1 shape ``<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{json}<｜tool▁call▁end｜>``
(no ``function`` prefix, no fence) is read too. Markers may use ``_``, a
space or ``\\_`` instead of ``▁`` and an ASCII ``|`` instead of ``｜``, and
``<｜tool▁calls｜>`` opens a block: models emit all of these. Arguments are
returned as raw text; validating them is the caller's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto

from ponder.backends._trim import Trimmer

__all__ = ["R1ToolCallParser", "RawToolCall", "parse_r1_tool_calls"]


@dataclass(frozen=True, slots=True)
class RawToolCall:
    """One tool call as the model wrote it.

    ``index`` counts the calls of one output from 0; ``arguments`` is the text
    inside the ```` ```json ```` fence, stripped, and may be invalid or partial JSON.
    """

    index: int
    name: str
    arguments: str


class _Marker(Enum):
    CALLS_BEGIN = auto()
    CALLS_END = auto()
    CALL_BEGIN = auto()
    CALL_END = auto()
    SEP = auto()
    EOS = auto()


_WORDS: dict[str, _Marker] = {
    "tool_calls_begin": _Marker.CALLS_BEGIN,
    "tool_calls": _Marker.CALLS_BEGIN,
    "tool_calls_end": _Marker.CALLS_END,
    "tool_call_begin": _Marker.CALL_BEGIN,
    "tool_call_end": _Marker.CALL_END,
    "tool_sep": _Marker.SEP,
    "end_of_sentence": _Marker.EOS,
}
_SEP = r"(?:▁|_| |\\_)"
_SEP_RE = re.compile(_SEP)
_MARKER_RE = re.compile("<[｜|](" + "|".join(w.replace("_", _SEP) for w in _WORDS) + ")[｜|]>")
# Canonical spellings, for deciding whether a held-back suffix can still become a marker.
_CANONICAL = tuple("<｜" + w.replace("_", "▁") + "｜>" for w in _WORDS)
_TO_CANONICAL = str.maketrans({"_": "▁", " ": "▁", "|": "｜"})
# Longest raw spelling (every ▁ written as the two characters \_), less one.
_WINDOW = max(len(m) + m.count("▁") for m in _CANONICAL) - 1
_TYPE_PREFIXES = frozenset({"", "function"})
_FENCE_OPEN = re.compile(r"^```(?:[A-Za-z]+(?=[\s{\[]|$))?")


class R1ToolCallParser:
    """Split one streamed model output into content text and tool calls.

    :meth:`feed` returns, in order, content pieces (non-empty ``str``) and
    each :class:`RawToolCall` as soon as its ``<｜tool▁call▁end｜>`` arrives;
    :meth:`flush` ends the stream. A suffix that could still begin a marker
    is held back until it is known not to; no part of a marker is ever
    emitted, and ``<｜end▁of▁sentence｜>`` is removed wherever it appears.

    Content is everything outside the tool-call blocks with its outer
    whitespace removed (the concatenation of the pieces equals
    ``parse_r1_tool_calls(text)[0]`` for any chunking). Whitespace between and
    after calls is dropped; other stray text inside a block that does not
    form a call is passed on as content rather than lost. A stream that ends
    inside a block yields what can be recovered: a call whose name arrived,
    with whatever argument text came with it. A partial marker cut off at the
    end of the stream is dropped. Nothing here raises on malformed input.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._content = Trimmer()
        self._in_block = False
        self._head: list[str] = []
        self._body: list[str] | None = None
        self._count = 0
        self._flushed = False
        self.saw_tool_calls = False

    def feed(self, text: str) -> list[str | RawToolCall]:
        """Take the next chunk of model output; return content pieces and finished calls."""
        if self._flushed:
            raise ValueError("R1ToolCallParser.feed() called after flush()")
        self._pending += text
        out: list[str | RawToolCall] = []
        self._run(out, final=False)
        return out

    def flush(self) -> list[str | RawToolCall]:
        """End the stream: release held-back text and recover an unterminated call."""
        if self._flushed:
            return []
        self._flushed = True
        out: list[str | RawToolCall] = []
        self._run(out, final=True)
        return out

    def _run(self, out: list[str | RawToolCall], *, final: bool) -> None:
        buf = self._pending
        pos = 0
        for match in _MARKER_RE.finditer(buf):
            self._text(buf[pos : match.start()], out)
            self._marker(_WORDS[_SEP_RE.sub("_", match.group(1))], out)
            pos = match.end()
        tail = buf[pos:]
        cut = _partial_marker_start(tail)
        self._text(tail[:cut], out)
        held = tail[cut:]
        if final:
            if len(held) < 2:  # a lone "<" is text; anything longer was a marker cut short
                self._text(held, out)
            held = ""
            if self._in_block:
                self._finish_call(out)
                self._in_block = False
        self._pending = held

    def _text(self, text: str, out: list[str | RawToolCall]) -> None:
        if not text:
            return
        if self._in_block:
            (self._head if self._body is None else self._body).append(text)
        else:
            self._emit_content(text, out)

    def _marker(self, marker: _Marker, out: list[str | RawToolCall]) -> None:
        if marker is _Marker.EOS:
            return
        if not self._in_block:
            # A stray separator or end marker outside a block is dropped.
            if marker in (_Marker.CALLS_BEGIN, _Marker.CALL_BEGIN):
                self._in_block = True
                self.saw_tool_calls = True
            return
        if marker is _Marker.SEP:
            if self._body is None:
                self._body = []
        elif marker is not _Marker.CALLS_BEGIN:
            self._finish_call(out)
            if marker is _Marker.CALLS_END:
                self._in_block = False

    def _finish_call(self, out: list[str | RawToolCall]) -> None:
        head = "".join(self._head)
        body = None if self._body is None else "".join(self._body)
        self._head, self._body = [], None
        call = _build_call(self._count, head, body)
        if call is not None:
            self._count += 1
            out.append(call)
            return
        stray = (head + (body or "")).strip()
        if stray not in _TYPE_PREFIXES:
            self._emit_content(stray, out)

    def _emit_content(self, text: str, out: list[str | RawToolCall]) -> None:
        piece = self._content.push(text)
        if not piece:
            return
        if out and isinstance(out[-1], str):
            out[-1] += piece
        else:
            out.append(piece)


def _build_call(index: int, head: str, body: str | None) -> RawToolCall | None:
    """Read ``type<sep>NAME\\n```json ARGS```"`` (R1) or ``NAME<sep>ARGS`` (V3.1)."""
    if body is None:
        return None
    head = head.strip()
    if head in _TYPE_PREFIXES:
        name, args = _split_name(body)
        if name:
            return RawToolCall(index, name, _unfence(args))
    if head:
        return RawToolCall(index, head, _unfence(body))
    return None


def _split_name(body: str) -> tuple[str, str]:
    """Split R1's ``NAME\\n```json…`` into the name and the rest ("" if no name)."""
    line, _, rest = body.lstrip().partition("\n")
    fence = line.find("```")
    if fence >= 0:
        line, rest = line[:fence], line[fence:] + "\n" + rest
    name = line.strip()
    if name.startswith(("{", "[")):
        return "", body
    return name, rest


def _unfence(args: str) -> str:
    text = _FENCE_OPEN.sub("", args.strip(), count=1).rstrip()
    if text.endswith("```"):
        text = text[:-3]
    return text.strip()


def _partial_marker_start(text: str) -> int:
    """Index where a suffix of ``text`` that could begin a marker starts, else ``len(text)``."""
    i = text.find("<", max(0, len(text) - _WINDOW))
    while i >= 0:
        if _could_begin_marker(text[i:]):
            return i
        i = text.find("<", i + 1)
    return len(text)


def _could_begin_marker(text: str) -> bool:
    canonical = text.replace("\\_", "▁").translate(_TO_CANONICAL)
    if canonical.endswith("\\"):
        canonical = canonical[:-1] + "▁"
    return any(marker.startswith(canonical) for marker in _CANONICAL)


def parse_r1_tool_calls(text: str) -> tuple[str, list[RawToolCall]]:
    """Parse a complete model output into ``(content, calls)``; see :class:`R1ToolCallParser`."""
    parser = R1ToolCallParser()
    items = parser.feed(text) + parser.flush()
    content = "".join(item for item in items if isinstance(item, str))
    return content, [item for item in items if isinstance(item, RawToolCall)]
