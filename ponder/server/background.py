"""Background runs over HTTP: submit now (202), collect later at ``GET /runs/{run_id}``.

``POST /agents/{agent}/runs`` with ``"background": true`` queues the run
(:mod:`ponder.agents.queue`) and answers 202 with its id and a ``Location``
header; ``GET /runs/{run_id}`` gives its status and, once it ended, its
outcome and answer (a paused run lists its pending calls; decide them at
``POST /runs/{run_id}/decisions``). Both answer 501 on a server started
without background runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ponder.memory.runs import RunNotFound, ThreadBusy
from ponder.server.auth import BearerAuth
from ponder.server.errors import ApiError
from ponder.server.models import RunRequest

if TYPE_CHECKING:
    from ponder.agents.queue import BackgroundRuns

__all__ = ["background_router", "submit_background"]

_OFF = "background runs are off on this server; start it with --queue (pip install 'ponder[queue]')"


async def submit_background(
    background: BackgroundRuns | None, agent: str, body: RunRequest
) -> JSONResponse:
    """Queue the run of ``body``: 202 with its id, 409 when its thread is taken."""
    if background is None:
        raise ApiError(501, "not_configured", _OFF)
    if body.include_reasoning:
        raise ApiError(
            422, "invalid_request", "a background run cannot return reasoning: it is never kept"
        )
    try:
        run = await background.submit(agent, body.question, thread_id=body.thread_id)
    except ThreadBusy as exc:
        raise ApiError(409, "thread_busy", str(exc)) from None
    return JSONResponse(
        run.to_json_dict(), status_code=202, headers={"Location": f"/runs/{run.run_id}"}
    )


def background_router(background: BackgroundRuns | None, *, auth: BearerAuth) -> APIRouter:
    """``GET /runs/{run_id}``, behind ``auth``."""
    router = APIRouter(dependencies=[Depends(auth)])

    @router.get("/runs/{run_id}")
    async def run_status(run_id: str) -> dict[str, Any]:
        if background is None:
            raise ApiError(501, "not_configured", _OFF)
        try:
            run = await background.get(run_id)
        except RunNotFound:
            raise ApiError(404, "run_not_found", f"no run {run_id!r}") from None
        return run.to_json_dict()

    return router
