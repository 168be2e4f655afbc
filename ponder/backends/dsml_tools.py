"""Streaming parser for DeepSeek's DSML tool-call markup (V3.2 and V4).

Self-hosted DeepSeek V3.2 / V4 on engines without a tool parser (or whose
parser misses a shape) return tool calls as text. The grammar, from DeepSeek's
own ``encoding_dsv32.py`` / ``encoding_dsv4.py`` and SGLang's
``deepseekv32_detector.py``::

    <｜DSML｜function_calls>                      (V4: <｜DSML｜tool_calls>)
    <｜DSML｜invoke name="NAME">
    <｜DSML｜parameter name="KEY" string="true">text</｜DSML｜parameter>
    <｜DSML｜parameter name="KEY" string="false">JSON</｜DSML｜parameter>
    </｜DSML｜invoke>
    </｜DSML｜function_calls>

``string="true"`` values are text; ``string="false"`` values are JSON. An
invoke may carry a JSON object instead of parameters. The bars may be the
fullwidth ``｜`` or an ASCII ``|``, and closing tags may drop the ``｜DSML｜``
part (both seen from real models). Arguments come out as JSON text, built the
way DeepSeek's ``decode_dsml_to_arguments`` builds them (a bad JSON value
stays bad: validating is the caller's job).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ponder.backends._trim import Trimmer
from ponder.backends.r1_tools import RawToolCall

__all__ = ["DsmlToolCallParser", "encode_dsml_tool_calls", "parse_dsml_tool_calls"]

_BAR = "[｜|]"
_WORDS = ("function_calls", "tool_calls", "invoke", "parameter")
_TAG_RE = re.compile(
    r"<(/?)(" + _BAR + r"DSML" + _BAR + r")?(" + "|".join(_WORDS) + r")"
    r"((?:\s+[A-Za-z_][\w-]*\s*=\s*\"[^\"]*\")*)\s*>"
)
_ATTR_RE = re.compile(r"([A-Za-z_][\w-]*)\s*=\s*\"([^\"]*)\"")
_PARTIAL_AT = re.compile(r"<(?=/|[｜|]|$)")
_PREFIXES = ("<｜DSML｜", "</｜DSML｜", "</")
_MAX_PARTIAL = 2048
_BLOCKS = frozenset({"function_calls", "tool_calls"})


@dataclass
class _Call:
    name: str
    params: list[tuple[str, bool, str]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    param: tuple[str, bool] | None = None
    value: list[str] = field(default_factory=list)

    def end_param(self) -> None:
        if self.param is not None:
            self.params.append((*self.param, "".join(self.value)))
        self.param, self.value = None, []

    def arguments(self) -> str:
        self.end_param()
        if not self.params:  # a JSON object instead of parameters, or no arguments
            return "".join(self.body).strip() or "{}"
        parts = [
            f"{json.dumps(key, ensure_ascii=False)}: "
            + (json.dumps(value, ensure_ascii=False) if is_str else value.strip())
            for key, is_str, value in self.params
        ]
        return "{" + ", ".join(parts) + "}"


class DsmlToolCallParser:
    """Split one streamed model output into content text and DSML tool calls.

    Same contract as :class:`~ponder.backends.r1_tools.R1ToolCallParser`:
    :meth:`feed` returns content pieces (non-empty ``str``) and each
    :class:`RawToolCall` once its ``</｜DSML｜invoke>`` arrives; :meth:`flush`
    ends the stream and recovers a call cut off after its name. No part of a
    DSML tag is ever emitted as content; content keeps everything outside the
    blocks, outer whitespace removed. Nothing here raises on malformed input.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._content = Trimmer()
        self._in_block = False
        self._call: _Call | None = None
        self._count = 0
        self._flushed = False
        self.saw_tool_calls = False

    def feed(self, text: str) -> list[str | RawToolCall]:
        """Take the next chunk of model output; return content pieces and finished calls."""
        if self._flushed:
            raise ValueError("DsmlToolCallParser.feed() called after flush()")
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
        self._finish_call(out)
        return out

    def _run(self, out: list[str | RawToolCall], *, final: bool) -> None:
        buf = self._pending
        pos = 0
        for match in _TAG_RE.finditer(buf):
            self._text(buf[pos : match.start()], out)
            self._tag(match, out)
            pos = match.end()
        tail = buf[pos:]
        cut = len(tail) if final else _partial_tag_start(tail)
        self._text(tail[:cut], out)
        self._pending = tail[cut:]

    def _text(self, text: str, out: list[str | RawToolCall]) -> None:
        if not text:
            return
        call = self._call
        if call is None:
            # Stray text between calls is passed on, never lost.
            if not self._in_block or text.strip():
                self._emit_content(text, out)
        elif call.param is not None:
            call.value.append(text)
        else:
            call.body.append(text)

    def _tag(self, match: re.Match[str], out: list[str | RawToolCall]) -> None:
        closing, dsml, word = bool(match.group(1)), bool(match.group(2)), match.group(3)
        attrs = dict(_ATTR_RE.findall(match.group(4) or ""))
        if not (dsml or (closing and (self._in_block or self._call is not None))):
            self._text(match.group(0), out)  # a plain <invoke> outside DSML is text
            return
        if word in _BLOCKS:
            if closing:
                self._finish_call(out)
                self._in_block = False
            else:
                self._in_block = self.saw_tool_calls = True
        elif word == "invoke":
            self._finish_call(out)
            if not closing:
                self._in_block = self.saw_tool_calls = True
                self._call = _Call(name=attrs.get("name", "").strip())
        elif self._call is not None:  # parameter
            self._call.end_param()
            if not closing:
                self._call.param = (attrs.get("name", ""), attrs.get("string", "true") != "false")

    def _finish_call(self, out: list[str | RawToolCall]) -> None:
        call, self._call = self._call, None
        if call is None:
            return
        if call.name:
            out.append(RawToolCall(self._count, call.name, call.arguments()))
            self._count += 1

    def _emit_content(self, text: str, out: list[str | RawToolCall]) -> None:
        piece = self._content.push(text)
        if not piece:
            return
        if out and isinstance(out[-1], str):
            out[-1] += piece
        else:
            out.append(piece)


def _partial_tag_start(tail: str) -> int:
    """Where a suffix of ``tail`` that could still become a DSML tag starts."""
    start = max(tail.rfind(">") + 1, len(tail) - _MAX_PARTIAL)
    for match in _PARTIAL_AT.finditer(tail, start):
        if _could_begin_tag(tail[match.start() :]):
            return match.start()
    return len(tail)


def _could_begin_tag(text: str) -> bool:
    canonical = text.replace("|", "｜")
    for prefix in _PREFIXES:
        if len(canonical) <= len(prefix):
            if prefix.startswith(canonical):
                return True
            continue
        if not canonical.startswith(prefix):
            continue
        rest = canonical[len(prefix) :]
        word = re.match(r"[a-z_]*", rest)
        name = word.group(0) if word else ""
        if any(w.startswith(name) for w in _WORDS) and (name in _WORDS or name == rest):
            return True
    return False


def parse_dsml_tool_calls(text: str) -> tuple[str, list[RawToolCall]]:
    """Parse a complete model output into ``(content, calls)``; see :class:`DsmlToolCallParser`."""
    parser = DsmlToolCallParser()
    items = parser.feed(text) + parser.flush()
    content = "".join(item for item in items if isinstance(item, str))
    return content, [item for item in items if isinstance(item, RawToolCall)]


def encode_dsml_tool_calls(calls: list[tuple[str, str]], *, block: str = "tool_calls") -> str:
    """DSML text for ``(name, arguments JSON)`` pairs, as DeepSeek's encoder writes it.

    ``block`` is ``"tool_calls"`` (V4) or ``"function_calls"`` (V3.2).
    Arguments that are not a JSON object go in one ``arguments`` parameter.
    """
    invokes = []
    for name, arguments in calls:
        try:
            value = json.loads(arguments) if arguments.strip() else {}
        except (json.JSONDecodeError, RecursionError):
            value = {"arguments": arguments}
        if not isinstance(value, dict):
            value = {"arguments": arguments}
        params = "\n".join(
            f'<｜DSML｜parameter name="{key}" string="{"true" if isinstance(v, str) else "false"}">'
            f"{v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}</｜DSML｜parameter>"
            for key, v in value.items()
        )
        invokes.append(f'<｜DSML｜invoke name="{name}">\n{params}\n</｜DSML｜invoke>')
    return f"<｜DSML｜{block}>\n" + "\n".join(invokes) + f"\n</｜DSML｜{block}>"
