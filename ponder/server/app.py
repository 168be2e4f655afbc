"""``create_app``: named ponder agents behind a FastAPI app."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ponder.memory import MemoryStore
from ponder.server.auth import AuthMiddleware, BearerAuth
from ponder.server.decisions import decisions_router
from ponder.server.errors import install_error_handlers
from ponder.server.limits import BodyLimitMiddleware
from ponder.server.native import native_router
from ponder.server.openai_compat import openai_router
from ponder.server.recovery import recovery_loop
from ponder.server.runs import AgentSource, RunManager
from ponder.server.tracing import TraceContextMiddleware

__all__ = ["DEFAULT_BODY_TIMEOUT_S", "DEFAULT_MAX_BODY_BYTES", "create_app"]

DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_BODY_TIMEOUT_S = 30.0


def create_app(
    agents: Mapping[str, AgentSource],
    *,
    memory: MemoryStore | None = None,
    api_keys: Iterable[str] | None = None,
    allow_reasoning: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    shutdown_timeout_s: float = 5.0,
    run_lease_s: float | None = None,
    recover_runs: bool = True,
    mcp: bool | None = None,
) -> FastAPI:
    """A FastAPI app serving ``agents`` by name.

    ``agents`` maps names to an :class:`~ponder.agents.Agent` (shared by all
    requests) or a zero-argument factory (called per run; its agent is closed
    after the run). ``memory`` is the store the agents save to; it backs the
    thread endpoints. ``api_keys`` turns on bearer authentication for every
    route but ``/health``, checked before any body is read. Reasoning is sent
    only when ``allow_reasoning`` is true *and* the request sets
    ``include_reasoning``. Bodies over ``max_body_bytes`` get 413, bodies
    slower than ``body_timeout_s`` 408. Thread ids must match
    :data:`~ponder.server.models.THREAD_ID_PATTERN` (else 422). The app does
    not close the agents or the memory it was given; at shutdown it cancels
    runs still in flight (after ``shutdown_timeout_s`` of waiting for them);
    a cancelled run saves nothing, or is logged as completed if its turn was
    already stored.
    ``mcp`` serves each agent as an MCP tool at ``/mcp`` (Streamable HTTP, same
    bearer tokens; by default when the ``mcp`` SDK is installed).

    With ``memory``, one run per thread is enforced in the database (any
    number of workers), runs are leased for ``run_lease_s`` (renewed while they
    run) and, with ``recover_runs``, runs abandoned by a dead worker are
    resumed at start-up and then once per lease period (see
    :mod:`ponder.server.recovery`).
    """
    manager = RunManager(agents, memory=memory, lease_s=run_lease_s)
    auth = BearerAuth(api_keys)

    mcp_endpoint, mcp_lifespan = _mcp_mount(manager, auth, allow_reasoning, mcp)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        recovery = None
        if recover_runs and manager.ledger is not None:
            recovery = asyncio.create_task(recovery_loop(manager, manager.ledger.lease_s))
        async with mcp_lifespan():
            yield
            await manager.shutdown(timeout_s=shutdown_timeout_s)
        if recovery is not None:
            recovery.cancel()
            await asyncio.gather(recovery, return_exceptions=True)

    app = FastAPI(
        title="ponder",
        lifespan=lifespan,
        docs_url=None if auth.enabled else "/docs",
        redoc_url=None,
        openapi_url=None if auth.enabled else "/openapi.json",
    )
    app.state.ponder = manager
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes, timeout_s=body_timeout_s)
    if auth.enabled:  # before the body limit: nothing is read from a client without a key
        # /mcp checks the same tokens itself, before any body, and answers in JSON-RPC
        open_paths = {"/health"} | ({"/mcp"} if mcp_endpoint is not None else set())
        app.add_middleware(AuthMiddleware, auth=auth, open_paths=open_paths)
    app.add_middleware(TraceContextMiddleware)

    @app.get("/health")
    async def health() -> JSONResponse:
        if manager.stopping:
            return JSONResponse({"status": "stopping"}, status_code=503)
        return JSONResponse({"status": "ok"})

    app.include_router(
        native_router(manager, memory=memory, allow_reasoning=allow_reasoning, auth=auth)
    )
    app.include_router(
        decisions_router(manager, memory=memory, allow_reasoning=allow_reasoning, auth=auth)
    )
    app.include_router(openai_router(manager, allow_reasoning=allow_reasoning, auth=auth))
    if mcp_endpoint is not None:
        app.add_route("/mcp", mcp_endpoint, methods=["GET", "POST", "DELETE"])
    return app


def _mcp_mount(
    manager: RunManager, auth: BearerAuth, allow_reasoning: bool, wanted: bool | None
) -> tuple[Any, Callable[[], AbstractAsyncContextManager[None]]]:
    """The ``/mcp`` endpoint and its lifespan, or ``(None, a no-op)``."""
    if wanted is None:
        wanted = importlib.util.find_spec("mcp") is not None
    if not wanted:
        return None, nullcontext
    from ponder.server.mcp import mcp_http_app, mcp_server

    return mcp_http_app(mcp_server(manager, send_reasoning=allow_reasoning), auth)
