"""A minimal HTTP/1.1 server side on asyncio streams, with byte-level control.

Only what the fake model server needs: request parsing (Content-Length or
chunked bodies, keep-alive), fixed-length responses, and chunked streaming
responses that can be split at odd offsets or cut off mid-stream.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

__all__ = ["BadRequest", "HttpRequest", "Responder", "dumps", "read_request", "set_nodelay"]

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
# Piece sizes for split writes: odd sizes so splits land inside JSON, inside
# UTF-8 sequences and between the two newlines ending an event.
_SPLIT_SIZES = (1, 5, 2, 11, 3, 17, 7)


class BadRequest(Exception):
    """The bytes received are not an HTTP/1.1 request we can serve."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool

    def json(self) -> Any:
        """The body parsed as JSON; ``None`` when empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """The next request on a connection, or ``None`` at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadRequest(400, "incomplete request head") from None
    except asyncio.LimitOverrunError:
        raise BadRequest(431, "request head too large") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, f"malformed request line: {lines[0][:80]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise BadRequest(400, "malformed header line")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    body = await _read_body(reader, headers)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return HttpRequest(method, target.split("?", 1)[0], headers, body, keep_alive)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await _read_chunked(reader)
        length = int(headers.get("content-length", "0"))
        if not 0 <= length <= MAX_BODY:
            raise BadRequest(413, "request body too large")
        return await reader.readexactly(length)
    except ValueError:
        raise BadRequest(400, "bad content-length or chunk size") from None
    except asyncio.IncompleteReadError:
        raise BadRequest(400, "request body ended early") from None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(body) > MAX_BODY:
            raise BadRequest(413, "request body too large")


class Responder:
    """Writes one response on a connection."""

    def __init__(self, writer: asyncio.StreamWriter, *, keep_alive: bool) -> None:
        self._writer = writer
        self.keep_alive = keep_alive

    async def send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        """A complete response with a Content-Length."""
        head = self._head(status, {"content-type": content_type, **(headers or {})})
        self._writer.write(head + f"content-length: {len(body)}\r\n\r\n".encode() + body)
        await self._writer.drain()

    async def send_json(
        self, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        await self.send(status, dumps(payload), headers=headers)

    async def start_stream(self, content_type: str) -> None:
        """The head of a chunked (Transfer-Encoding) streaming response."""
        head = self._head(200, {"content-type": content_type, "cache-control": "no-cache"})
        self._writer.write(head + b"transfer-encoding: chunked\r\n\r\n")
        await self._writer.drain()

    async def stream(self, data: bytes, *, split: bool = False) -> None:
        """One piece of a streaming body; ``split`` sends it as several odd-sized writes."""
        if not split:
            self._writer.write(_chunk(data))
            await self._writer.drain()
            return
        for piece in _split(data):
            self._writer.write(_chunk(piece))
            await self._writer.drain()
            await asyncio.sleep(0.002)  # let the reader see each piece on its own

    async def end_stream(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    def drop(self) -> None:
        """Close the connection mid-response: no terminating chunk."""
        self.keep_alive = False
        self._writer.close()

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_phrase(status)}", "server: ponder-fake-model"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if not self.keep_alive:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def set_nodelay(writer: asyncio.StreamWriter) -> None:
    """Send small stream pieces at once rather than batching them (Nagle)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as servers send it."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _split(data: bytes) -> list[bytes]:
    pieces, start, i = [], 0, 0
    while start < len(data) - 1:
        end = min(start + _SPLIT_SIZES[i % len(_SPLIT_SIZES)], len(data) - 1)
        pieces.append(data[start:end])
        start, i = end, i + 1
    pieces.append(data[start:])  # the last byte alone: the event's final newline
    return pieces
