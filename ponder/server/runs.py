"""Agents by name, one run at a time per thread, and cancellation on disconnect."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from typing import TypeVar, cast

from starlette.types import Receive

from ponder.agents import FinalEvent, RunResult, StreamingAgent
from ponder.agents._unwind import cancel_and_wait
from ponder.agents.agent import AgentEvent
from ponder.agents.durable import HELD_RUN, HeldRun
from ponder.backends.errors import BackendError
from ponder.memory import CancelledAfterSave, MemoryStore
from ponder.memory.runs import RunLedger, RunStatus, ThreadBusy
from ponder.server.errors import ApiError
from ponder.server.model_errors import public_model_error

__all__ = [
    "AgentSource",
    "ClientDisconnected",
    "RunManager",
    "ThreadClaim",
    "unless_disconnected",
    "until_disconnected",
]

AgentSource = StreamingAgent | Callable[[], StreamingAgent]
_T = TypeVar("_T")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
logger = logging.getLogger("ponder.server")


class ClientDisconnected(Exception):
    """The client went away before its run finished; the run was cancelled."""


class ThreadClaim:
    """The right to run on one thread; :meth:`release` is idempotent."""

    def __init__(self, manager: RunManager, thread_id: str, run_id: str | None = None) -> None:
        self._manager = manager
        self.thread_id = thread_id
        self.run_id = run_id or uuid.uuid4().hex
        self.task: asyncio.Task[object] | None = None

    def attach(self) -> None:
        """Record the current task, so shutdown can cancel it."""
        self.task = asyncio.current_task()

    def release(self) -> None:
        if self._manager._claims.get(self.thread_id) is self:
            del self._manager._claims[self.thread_id]


class RunManager:
    """Resolves agents by name and runs them, one run per thread at a time.

    An :class:`Agent` value is shared by all requests; a callable is a factory
    called once per run, whose agent is closed when the run ends.
    """

    def __init__(
        self,
        agents: Mapping[str, AgentSource],
        *,
        memory: MemoryStore | None,
        lease_s: float | None = None,
    ) -> None:
        if not agents:
            raise ValueError("create_app needs at least one agent")
        for name, source in agents.items():
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise ValueError(
                    f"agent name {name!r} must be 1-64 characters of letters, digits and ._:- "
                    "starting with a letter or digit"
                )
            if not isinstance(source, StreamingAgent) and not callable(source):
                raise TypeError(f"agent {name!r} must be an Agent or a callable returning one")
            own = getattr(source, "memory", None)
            if isinstance(source, StreamingAgent) and memory is not None and own is not memory:
                raise ValueError(
                    f"agent {name!r} saves to a different MemoryStore than the server reads; "
                    "give the server the store its agents use"
                )
        self._agents = dict(agents)
        self._claims: dict[str, ThreadClaim] = {}
        self.stopping = False
        self.memory = memory
        self.ledger = RunLedger.for_store(memory, lease_s=lease_s) if memory is not None else None
        """One run per thread across workers and machines, when there is a database."""
        self.paused: dict[str, str] = {}
        """Run id → agent name of paused runs (used when there is no ledger)."""

    @property
    def names(self) -> list[str]:
        return list(self._agents)

    def source(self, name: str) -> AgentSource:
        """The agent (or factory) served as ``name``."""
        return self._agents[name]

    def check_agent(self, name: str) -> None:
        if name not in self._agents:
            raise ApiError(
                404, "agent_not_found", f"no agent named {name!r}; available: {self.names}"
            )

    def busy(self, thread_id: str) -> bool:
        return thread_id in self._claims

    def claim(self, thread_id: str) -> ThreadClaim:
        """Take the thread, or raise 409 (busy) / 503 (shutting down)."""
        if self.stopping:
            raise ApiError(503, "shutting_down", "the server is shutting down")
        if thread_id in self._claims:
            raise ApiError(409, "thread_busy", "this thread already has a run in progress")
        claim = ThreadClaim(self, thread_id)
        self._claims[thread_id] = claim
        return claim

    async def start(self, name: str, thread_id: str, question: str) -> ThreadClaim:
        """Claim the thread for a new run: in the database when there is one, else here.

        Raises 409 (busy, from whichever worker holds it) or 503 (shutting down).
        """
        claim = self.claim(thread_id)
        if self.ledger is None:
            return claim
        try:
            claim.run_id = await self.ledger.start(thread_id, question, agent=name)
        except ThreadBusy as exc:
            claim.release()
            raise ApiError(409, "thread_busy", str(exc)) from None
        except BaseException:
            claim.release()
            raise
        return claim

    async def events(
        self,
        name: str,
        question: str,
        claim: ThreadClaim,
        *,
        run_id: str,
        source: AsyncGenerator[AgentEvent, None] | None = None,
        instructions: str | None = None,
    ) -> AsyncGenerator[AgentEvent, None]:
        """The agent's events; closing this iterator cancels the run (nothing is saved).

        ``source`` replaces the agent's run (a resumed run's events).
        ``instructions`` (a client's system/developer messages) reach the agent
        as part of its system message.
        """
        started = time.monotonic()
        logger.info("run %s started: agent=%s thread=%s", run_id, name, claim.thread_id)
        outcome = "cancelled"
        status: RunStatus = "cancelled"
        HELD_RUN.set(HeldRun(run_id=run_id, thread_id=claim.thread_id))
        try:
            async with AsyncExitStack() as stack:
                if source is None:
                    agent = await stack.enter_async_context(self._agent(name))
                    source = _run(agent, question, claim, instructions)
                events = await stack.enter_async_context(aclosing(source))
                async for event in events:
                    if isinstance(event, FinalEvent):
                        outcome = event.result.outcome
                        status = "awaiting_approval" if outcome == "awaiting_approval" else "done"
                        if outcome == "awaiting_approval":
                            self.paused[run_id] = name
                        await self._finish(run_id, status)
                    yield event
        except CancelledAfterSave as saved:
            outcome = f"completed (turn {saved.record.index} saved; cancelled after saving)"
            status = "done"
            raise
        except BackendError as exc:
            outcome, status = f"model error ({type(exc).__name__})", "failed"
            raise
        except Exception as exc:
            outcome, status = f"failed ({type(exc).__name__})", "failed"
            raise
        finally:
            await self._finish(run_id, status)
            logger.info("run %s ended: %s after %.2fs", run_id, outcome, time.monotonic() - started)

    async def _finish(self, run_id: str, status: RunStatus) -> None:
        """Record the run's status unless its agent already did (durable agents do)."""
        if self.ledger is not None and self.ledger.holds(run_id):
            await asyncio.shield(self.ledger.finish(run_id, status))

    def make_agent(self, name: str) -> tuple[StreamingAgent, bool]:
        """The agent for a resumed run, and whether the caller must close it."""
        source = self._agents[name]
        if isinstance(source, StreamingAgent):
            return source, False
        return source(), True

    async def result(
        self,
        name: str,
        question: str,
        claim: ThreadClaim,
        *,
        run_id: str,
        instructions: str | None = None,
    ) -> RunResult:
        """Run to the end; backend errors become 502."""
        run = self.events(name, question, claim, run_id=run_id, instructions=instructions)
        try:
            async with aclosing(run) as events:
                async for event in events:
                    if isinstance(event, FinalEvent):
                        return event.result
        except BackendError as exc:
            raise ApiError(502, "model_error", public_model_error(exc)) from exc
        raise RuntimeError("the run ended without a result")

    async def shutdown(self, *, timeout_s: float = 5.0) -> None:
        """Refuse new runs, cancel the ones in flight and wait for them to unwind."""
        self.stopping = True
        tasks = {c.task for c in self._claims.values() if c.task is not None and not c.task.done()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)

    @asynccontextmanager
    async def _agent(self, name: str) -> AsyncIterator[StreamingAgent]:
        source = self._agents[name]
        if isinstance(source, StreamingAgent):
            yield source
            return
        try:
            agent = source()
        except Exception as exc:  # e.g. a tool it needs cannot run on this machine
            raise ApiError(503, "agent_unavailable", f"agent {name!r} cannot start: {exc}") from exc
        if not isinstance(agent, StreamingAgent):
            raise TypeError(f"the factory of agent {name!r} returned {type(agent).__name__}")
        try:
            yield agent
        finally:
            await agent.aclose()


def _run(
    agent: StreamingAgent, question: str, claim: ThreadClaim, instructions: str | None
) -> AsyncGenerator[AgentEvent, None]:
    events = agent.astream(question, thread_id=claim.thread_id, instructions=instructions)
    return cast(AsyncGenerator[AgentEvent, None], events)


async def until_disconnected(receive: Receive) -> None:
    """Return when the client disconnects (the request body must already be read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(work: Awaitable[_T], receive: Receive) -> _T:
    """Await ``work``; if the client disconnects first, cancel it and raise."""
    run = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(until_disconnected(receive))
    try:
        await asyncio.wait({run, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        await cancel_and_wait(run)  # once, so that the run's clean-up is not cut short
    if run.cancelled():
        raise ClientDisconnected
    return run.result()
