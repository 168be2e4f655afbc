"""The redacting PostgreSQL saver; imported lazily (needs the ``postgres`` extra)."""

from __future__ import annotations

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from ponder.memory.checkpoint import RedactingSaverMixin

__all__ = ["RedactingAsyncPostgresSaver"]


class RedactingAsyncPostgresSaver(RedactingSaverMixin, AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that redacts checkpoints (inline JSONB values too) and writes."""
