"""Run an app with uvicorn (what ``ponder serve`` calls)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

__all__ = ["serve"]


def serve(
    host: str,
    port: int,
    app: FastAPI,
    *,
    graceful_timeout_s: int = 30,
    log_level: str = "info",
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM.

    On a signal uvicorn stops accepting connections and lets runs in flight
    finish for up to ``graceful_timeout_s``; runs still going are then
    cancelled, and a cancelled run saves nothing.
    """
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout_s,
        proxy_headers=False,
    )
