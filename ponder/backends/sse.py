"""Server-sent events: bytes from the wire in, JSON payloads out.

:class:`SSEDecoder` follows the WHATWG event-stream parsing rules: lines end
in ``\\r\\n``, ``\\n`` or ``\\r``; ``:`` lines are comments (keep-alives); an
event is dispatched at a blank line; several ``data:`` lines join with
``\\n``. It holds partial lines, so an event may be split at any byte.

:class:`SSEJsonStream` adds the OpenAI conventions on top: each event's data
is one JSON object, ``[DONE]`` ends the stream, and an ``{"error": …}`` object
mid-stream is a failure. A stream that ends without ``[DONE]`` raises
:class:`~ponder.backends.errors.BrokenStreamError`: never a silently
truncated answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ponder.backends.errors import BackendError, BrokenStreamError, ProtocolError
from ponder.backends.wellformed import loads_json

__all__ = ["SSEDecoder", "SSEEvent", "SSEJsonStream"]

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its data (lines joined by ``\\n``) and type."""

    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Incremental event-stream parser: ``feed`` bytes, get complete events."""

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse ``chunk``; return the events it completed (possibly none)."""
        self._buffer += chunk
        if not self._started:
            if len(self._buffer) < len(_BOM) and _BOM.startswith(self._buffer):
                return []
            self._started = True
            if self._buffer.startswith(_BOM):
                self._buffer = self._buffer[len(_BOM) :]
        events: list[SSEEvent] = []
        for line in self._take_lines():
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SSEEvent]:
        """End of input: dispatch a last event whose blank line never came.

        A trailing partial line (no line ending) is a truncated write and is
        dropped, as the event-stream rules say.
        """
        events = self.feed(b"\n") if self._buffer.endswith(b"\r") else []
        self._buffer = b""
        event = self._dispatch()
        return [*events, event] if event is not None else events

    def _take_lines(self) -> list[bytes]:
        buf = self._buffer
        if b"\r" not in buf:  # the common case: plain \n endings
            *lines, self._buffer = buf.split(b"\n")
            return lines
        lines = []
        start = 0
        for match in _LINE_END.finditer(buf):
            if match.end() == len(buf) and match.group() == b"\r":
                break  # wait: a \n may follow in the next chunk
            lines.append(buf[start : match.start()])
            start = match.end()
        self._buffer = buf[start:]
        return lines

    def _process_line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            return self._dispatch()
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"event stream is not valid UTF-8: {exc}") from None
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\x00" not in value:
            self._id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SSEEvent(data="\n".join(data), event=event or "message", id=self._id)


ErrorMapper = Callable[[Any], BackendError]
"""Turns the value of a mid-stream ``"error"`` key into a typed error."""


class SSEJsonStream:
    """OpenAI-style SSE: JSON objects until ``[DONE]``.

    ``on_error`` maps an ``{"error": …}`` payload to a typed error; without it
    such a payload raises :class:`BrokenStreamError`.
    """

    def __init__(self, on_error: ErrorMapper | None = None) -> None:
        self._decoder = SSEDecoder()
        self._on_error = on_error
        self.done = False

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Parse ``chunk``; return the JSON objects it completed."""
        return self._payloads(self._decoder.feed(chunk))

    def close(self) -> list[dict[str, Any]]:
        """End of input: last payloads, or :class:`BrokenStreamError` if ``[DONE]`` never came."""
        payloads = self._payloads(self._decoder.close())
        if not self.done:
            raise BrokenStreamError("the stream ended before [DONE]: the answer is incomplete")
        return payloads

    def _payloads(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        payloads: list[dict[str, Any]] = []
        for event in events:
            data = event.data.strip()
            if self.done or not data:
                continue
            if data == "[DONE]":
                self.done = True
                continue
            try:
                payload = loads_json(data)
            except (ValueError, RecursionError) as exc:
                raise ProtocolError(f"stream event is not valid JSON: {exc}") from None
            if not isinstance(payload, dict):
                raise ProtocolError(f"stream event is JSON {type(payload).__name__}, not an object")
            if event.event == "error" or payload.get("error") is not None:
                raise self._error(payload.get("error", payload))
            payloads.append(payload)
        return payloads

    def _error(self, error: Any) -> BackendError:
        if self._on_error is not None:
            return self._on_error(error)
        return BrokenStreamError(f"the provider reported an error mid-stream: {error!r}"[:500])
