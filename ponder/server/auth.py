"""Optional bearer-token authentication, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from fastapi import HTTPException, Request

__all__ = ["BearerAuth"]


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

    def __call__(self, request: Request) -> None:
        if not self._keys:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        presented = token.strip().encode("utf-8", "replace")
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(presented, key)
        if scheme.lower() != "bearer" or not matched:
            raise HTTPException(
                status_code=401,
                detail="missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )


def _encoded(key: str) -> bytes:
    if not isinstance(key, str) or not key.strip() or key != key.strip():
        raise ValueError("API keys must be non-empty strings without surrounding whitespace")
    return key.encode("utf-8")
