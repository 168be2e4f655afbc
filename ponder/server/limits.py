"""Request body size and time limits as ASGI middleware: 413/408 before any route runs."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ponder.server.errors import error_response

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Read each HTTP body up to ``max_bytes`` within ``timeout_s``: 413 / 408 beyond.

    The body is buffered (requests here are small JSON documents) and replayed
    to the app; later ``receive`` calls reach the server, so routes can still
    wait for ``http.disconnect``. A client that sends its body too slowly is
    answered 408 and its connection closed, so it cannot hold the buffer.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        if max_bytes < 1:
            raise ValueError("max_body_bytes must be >= 1")
        if not timeout_s > 0:
            raise ValueError("body_timeout_s must be > 0")
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await error_response(400, "invalid_request", "invalid Content-Length")(
                scope, receive, send
            )
            return
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await self._read(receive)
        except TimeoutError:
            message = f"the request body did not arrive within {self.timeout_s:g} s"
            slow = error_response(408, "request_timeout", message, headers={"Connection": "close"})
            await slow(scope, receive, send)
            return
        if body is None:
            return
        if len(body) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body (cut just past ``max_bytes``), or ``None`` on disconnect."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            if size > self.max_bytes or not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body exceeds the limit of {self.max_bytes} bytes"
        await error_response(413, "request_too_large", message)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length, ``None`` when absent, ``-1`` when malformed."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None
