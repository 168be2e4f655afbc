"""What a client needs to draw a front end: ``GET /agents`` and ``GET /threads``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from ponder.memory import MemoryStore
from ponder.server.auth import BearerAuth
from ponder.server.errors import ApiError
from ponder.server.runs import RunManager

__all__ = ["listing_router"]


def listing_router(
    manager: RunManager, *, memory: MemoryStore | None, allow_reasoning: bool, auth: BearerAuth
) -> APIRouter:
    """The served agents (and whether reasoning may be asked for); threads, newest first."""
    router = APIRouter(dependencies=[Depends(auth)])

    @router.get("/agents")
    async def agents() -> dict[str, Any]:
        return {
            "agents": [{"name": name} for name in manager.names],
            "allow_reasoning": allow_reasoning,
        }

    @router.get("/threads")
    async def threads(limit: int = Query(default=100, ge=1, le=1000)) -> dict[str, Any]:
        if memory is None:
            raise ApiError(501, "not_configured", "this server was created without memory")
        return {
            "threads": [
                {
                    "thread_id": info.id,
                    "title": info.title,
                    "created_at": info.created_at.isoformat(),
                    "updated_at": info.updated_at.isoformat(),
                    "turn_count": info.turn_count,
                    "busy": manager.busy(info.id),
                }
                for info in await memory.list_threads(limit=limit)
            ]
        }

    return router
