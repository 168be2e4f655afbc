"""Optional bearer-token authentication, compared in constant time.

:class:`AuthMiddleware` checks the header before any body is read, so an
unauthenticated client cannot make the server buffer its upload; the
:class:`BearerAuth` dependency guards the routers wherever they are mounted.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from fastapi import HTTPException, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ponder.server.errors import error_response

__all__ = ["AuthMiddleware", "BearerAuth"]

_DENIED = "missing or invalid bearer token"


class BearerAuth:
    """A FastAPI dependency: ``Authorization: Bearer <key>`` must name one of ``keys``.

    With no keys every request passes. Keys are kept as bytes, never shown in
    ``repr`` or errors, and every key is compared (no early exit) so timing
    reveals neither a key nor which one matched.
    """

    def __init__(self, keys: Iterable[str] | None) -> None:
        if isinstance(keys, str):
            keys = [keys]
        self._keys = tuple(_encoded(key) for key in keys or ())

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def __repr__(self) -> str:
        return f"BearerAuth(keys={len(self._keys)})"

    def allows(self, authorization: str) -> bool:
        """True when the ``Authorization`` header value names a key (or auth is off)."""
        if not self._keys:
            return True
        scheme, _, token = authorization.partition(" ")
        presented = token.strip().encode("utf-8", "replace")
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(presented, key)
        return scheme.lower() == "bearer" and matched

    def __call__(self, request: Request) -> None:
        if not self.allows(request.headers.get("authorization", "")):
            raise HTTPException(
                status_code=401, detail=_DENIED, headers={"WWW-Authenticate": "Bearer"}
            )


class AuthMiddleware:
    """401 for HTTP requests without a valid key, before the body is read.

    ``open_paths`` (e.g. ``/health``) pass without a key.
    """

    def __init__(self, app: ASGIApp, *, auth: BearerAuth, open_paths: Iterable[str]) -> None:
        self.app = app
        self.auth = auth
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in self.open_paths
            or self.auth.allows(Headers(scope=scope).get("authorization", ""))
        ):
            await self.app(scope, receive, send)
            return
        denied = error_response(
            401, "unauthorized", _DENIED, headers={"WWW-Authenticate": "Bearer"}
        )
        denied.headers["Connection"] = "close"  # the unread body is not worth draining
        await denied(scope, receive, send)


def _encoded(key: str) -> bytes:
    if not isinstance(key, str) or not key.strip() or key != key.strip():
        raise ValueError("API keys must be non-empty strings without surrounding whitespace")
    return key.encode("utf-8")
