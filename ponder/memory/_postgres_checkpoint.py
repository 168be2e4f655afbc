"""The redacting PostgreSQL saver; imported lazily (needs the ``postgres`` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from ponder.memory.checkpoint import redact_checkpoint, redact_writes
from ponder.memory.redaction import redact

__all__ = ["RedactingAsyncPostgresSaver"]


class RedactingAsyncPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that redacts checkpoints (inline JSONB values too) and writes."""

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await super().aput(
            config, redact_checkpoint(checkpoint), redact(metadata), new_versions
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await super().aput_writes(config, redact_writes(writes), task_id, task_path)
