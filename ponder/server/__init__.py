"""Serve ponder agents over HTTP: a native API with SSE and an OpenAI-compatible one.

Needs the ``server`` extra (``pip install ponder[server]``).
"""

from ponder.server.app import DEFAULT_MAX_BODY_BYTES, create_app
from ponder.server.models import RunRequest
from ponder.server.openai_compat import ChatCompletionRequest, ChatMessage
from ponder.server.serve import serve

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ChatCompletionRequest",
    "ChatMessage",
    "RunRequest",
    "create_app",
    "serve",
]
