"""What an API client may read about a failed model call.

A backend's error text names where the backend lives (``the stream from
http://10.0.0.7:8000/v1 broke``); the server's clients must not learn its
internal addresses. URLs and host:port pairs become ``the model backend``.
"""

from __future__ import annotations

import re

from ponder.backends.errors import BackendError

__all__ = ["public_model_error"]

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>)]+", re.IGNORECASE)
_HOST_PORT = re.compile(r"\b(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-f:]+\])(?::\d+)?\b", re.I)


def public_model_error(exc: BackendError) -> str:
    """``"the model failed: …"`` with every backend address removed."""
    text = _HOST_PORT.sub("the model backend", _URL.sub("the model backend", exc.message))
    return f"the model failed: {text}"
