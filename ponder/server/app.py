"""``create_app``: named ponder agents behind a FastAPI app."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ponder.agents.queue import BackgroundRuns, QueueSettings, require_dbos
from ponder.memory import MemoryStore
from ponder.server.auth import AuthMiddleware, BearerAuth
from ponder.server.background import background_router
from ponder.server.decisions import decisions_router
from ponder.server.errors import install_error_handlers
from ponder.server.limits import BodyLimitMiddleware
from ponder.server.native import native_router
from ponder.server.openai_compat import openai_router
from ponder.server.page import PAGE_PATHS, PAGE_PREFIXES
from ponder.server.recovery import recovery_loop
from ponder.server.runs import AgentSource, RunManager
from ponder.server.tracing import TraceContextMiddleware
from ponder.server.ui import mount_ui

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
    page: bool = True,
    background: QueueSettings | None = None,
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
    bearer tokens; by default when the ``mcp`` SDK is installed). The AG-UI and
    Vercel AI SDK streams are always served; the chat page at ``/`` only when
    ``page`` is true.

    With ``memory``, one run per thread is enforced in the database (any
    number of workers), runs are leased for ``run_lease_s`` (renewed while they
    run) and, with ``recover_runs``, runs abandoned by a dead worker are
    resumed at start-up and then once per lease period (see
    :mod:`ponder.server.recovery`).

    ``background`` turns on background runs (``"background": true`` on
    ``POST /agents/{name}/runs``, then ``GET /runs/{run_id}``): a DBOS queue in
    the memory's database (:mod:`ponder.agents.queue`; needs ``memory`` and
    ``ponder[queue]``). At shutdown, background runs still going after
    ``shutdown_timeout_s`` are cancelled and left for the next start to resume.
    """
    manager = RunManager(agents, memory=memory, lease_s=run_lease_s)
    auth = BearerAuth(api_keys)
    queue = _background_runs(manager, background, run_lease_s)

    mcp_endpoint, mcp_lifespan = _mcp_mount(manager, auth, allow_reasoning, mcp)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if queue is not None:
            await queue.start()
        recovery = None
        if recover_runs and manager.ledger is not None:
            recovery = asyncio.create_task(
                recovery_loop(manager, manager.ledger.lease_s, background=queue)
            )
        async with mcp_lifespan():
            yield
            await manager.shutdown(timeout_s=shutdown_timeout_s)
        if recovery is not None:
            recovery.cancel()
            await asyncio.gather(recovery, return_exceptions=True)
        if queue is not None:
            await queue.aclose(grace_s=shutdown_timeout_s)

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
        # /mcp checks the same tokens itself, before any body, and answers in JSON-RPC;
        # the page and its assets hold no token (the page asks for one to call the API)
        open_paths = {"/health"} | ({"/mcp"} if mcp_endpoint is not None else set())
        app.add_middleware(
            AuthMiddleware,
            auth=auth,
            open_paths=open_paths | (PAGE_PATHS if page else set()),
            open_prefixes=PAGE_PREFIXES if page else (),
        )
    app.add_middleware(TraceContextMiddleware)

    @app.get("/health")
    async def health() -> JSONResponse:
        if manager.stopping:
            return JSONResponse({"status": "stopping"}, status_code=503)
        return JSONResponse({"status": "ok"})

    app.include_router(
        native_router(
            manager, memory=memory, allow_reasoning=allow_reasoning, auth=auth, background=queue
        )
    )
    app.include_router(background_router(queue, auth=auth))
    app.include_router(
        decisions_router(manager, memory=memory, allow_reasoning=allow_reasoning, auth=auth)
    )
    app.include_router(openai_router(manager, allow_reasoning=allow_reasoning, auth=auth))
    if mcp_endpoint is not None:
        app.add_route("/mcp", mcp_endpoint, methods=["GET", "POST", "DELETE"])
    mount_ui(app, manager, memory=memory, allow_reasoning=allow_reasoning, auth=auth, page=page)
    return app


def _background_runs(
    manager: RunManager, settings: QueueSettings | None, lease_s: float | None
) -> BackgroundRuns | None:
    """The server's background runs, when asked for (fails here if they cannot run)."""
    if settings is None:
        return None
    if manager.memory is None:
        raise ValueError("background runs need memory: create_app(..., memory=store)")
    require_dbos()
    sources = {name: manager.source(name) for name in manager.names}
    return BackgroundRuns(sources, memory=manager.memory, settings=settings, lease_s=lease_s)


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
