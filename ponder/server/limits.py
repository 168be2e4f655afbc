"""Request body size limit as ASGI middleware: 413 before any route runs."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ponder.server.errors import error_response

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Read each HTTP body up to ``max_bytes`` and answer 413 beyond it.

    The body is buffered (requests here are small JSON documents) and replayed
    to the app; later ``receive`` calls reach the server, so routes can still
    wait for ``http.disconnect``.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError("max_body_bytes must be >= 1")
        self.app = app
        self.max_bytes = max_bytes

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
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

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
