"""Everything a front end uses, mounted on an app in one call: listings, AG-UI, Vercel, the page."""

from __future__ import annotations

from fastapi import FastAPI

from ponder.memory import MemoryStore
from ponder.server.agui import agui_router
from ponder.server.auth import BearerAuth
from ponder.server.listing import listing_router
from ponder.server.page import mount_page
from ponder.server.runs import RunManager
from ponder.server.vercel import vercel_router

__all__ = ["mount_ui"]


def mount_ui(
    app: FastAPI,
    manager: RunManager,
    *,
    memory: MemoryStore | None,
    allow_reasoning: bool,
    auth: BearerAuth,
    page: bool = True,
) -> None:
    """Add ``GET /agents``, ``GET /threads``, the two UI streams and (if ``page``) the page."""
    app.include_router(
        listing_router(manager, memory=memory, allow_reasoning=allow_reasoning, auth=auth)
    )
    app.include_router(agui_router(manager, allow_reasoning=allow_reasoning, auth=auth))
    app.include_router(vercel_router(manager, allow_reasoning=allow_reasoning, auth=auth))
    if page:
        mount_page(app)
