"""Background runs: submit now, collect later, on a DBOS queue in the memory's database.

A background run is a DBOS workflow whose id is the run id. Its input is what
was submitted (agent name, question, thread id, run id); its one step drives
the ordinary durable run (:mod:`ponder.agents.durable`), so checkpoints, the
run ledger's lease and approvals all apply; its output is the run's outcome
and answer, never reasoning. DBOS keeps its tables in the memory's own
database (SQLite: the same file; PostgreSQL: the ``dbos`` schema of the same
database) as plain JSON (DBOS's portable serializer), so a canary scan reads
every byte it stores.

Recovery. A workflow whose process died stays ``PENDING``: DBOS runs it again
when a process with the same executor id launches, and the server's lease
recovery (:mod:`ponder.server.recovery`) hands an abandoned background run
back to its queue (``DBOS.resume_workflow``) so that any worker takes it. The
step then resumes the ponder run by its id from its last checkpoint (a
completed tool call is not run again) once the dead process's lease has
expired; the ledger lets one process at a time run it.

DBOS is a process-wide singleton and runs the queued workflows on the event
loop that called :meth:`BackgroundRuns.start`: one :class:`BackgroundRuns`
per process. DBOS is imported only there, so it stays an optional extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from ponder.agents.agent import Agent, StreamingAgent
from ponder.agents.durable import HELD_RUN, HeldRun
from ponder.agents.result import RunResult
from ponder.backends.errors import BackendError
from ponder.backends.markers import neutralise_markers
from ponder.backends.wellformed import well_formed
from ponder.graphs.approval import PendingCall
from ponder.memory import MemoryStore
from ponder.memory.runs import RunInfo, RunLedger, RunNotClaimable, RunNotFound, ThreadBusy

__all__ = [
    "QUEUE_HINT",
    "BackgroundRun",
    "BackgroundRunFailed",
    "BackgroundRuns",
    "QueueSettings",
    "QueueUnavailable",
    "require_dbos",
]

QUEUE_HINT = "background runs need DBOS: pip install 'ponder[queue]'"
_APP_NAME = "ponder"
_WORKFLOW_VERSION = "ponder-background-1"
"""DBOS recovers only workflows of its own application version; this names the
workflow's shape (input and output), so runs survive upgrades that keep it."""

AgentSource = StreamingAgent | Callable[[], StreamingAgent]
BackgroundStatus = Literal[
    "queued", "running", "awaiting_approval", "done", "failed", "cancelled", "abandoned"
]
_WORKFLOW_STATUS: dict[str, BackgroundStatus] = {
    "ENQUEUED": "queued",
    "DELAYED": "queued",
    "PENDING": "running",
    "SUCCESS": "done",
    "CANCELLED": "cancelled",
}


class QueueUnavailable(RuntimeError):
    """DBOS is not installed (``pip install 'ponder[queue]'``)."""


class BackgroundRunFailed(Exception):
    """What DBOS records for a run that failed: one line, never model text or reasoning."""


def require_dbos() -> ModuleType:
    """The ``dbos`` module, or :class:`QueueUnavailable` with the install line."""
    try:
        return importlib.import_module("dbos")
    except ImportError:
        raise QueueUnavailable(QUEUE_HINT) from None


@dataclass(frozen=True)
class QueueSettings:
    """The DBOS queue of background runs.

    ``worker_concurrency`` bounds the runs one process (one DBOS executor)
    takes at a time, ``concurrency`` those of all processes together (``None``:
    no bound). ``polling_interval_s`` is how often each process looks for
    queued runs. ``executor_id`` names this process to DBOS (default: DBOS's,
    ``DBOS__VMID`` or ``local``); a process recovers at launch the workflows
    left by a dead one with the same id.
    """

    name: str = "ponder-runs"
    worker_concurrency: int | None = 4
    concurrency: int | None = None
    polling_interval_s: float = 0.5
    executor_id: str | None = None

    def __post_init__(self) -> None:
        for field_name in ("worker_concurrency", "concurrency"):
            value = getattr(self, field_name)
            if value is not None and value < 1:
                raise ValueError(f"{field_name} must be at least 1")
        if self.polling_interval_s <= 0:
            raise ValueError("polling_interval_s must be positive")


class BackgroundRun(BaseModel):
    """Where a run stands: ``answer`` and ``outcome`` once it ended, ``pending`` while paused."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    thread_id: str | None
    agent: str | None
    status: BackgroundStatus
    outcome: str | None = None
    answer: Any = None
    pending: list[PendingCall] = Field(default_factory=list)
    error: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The ``GET /runs/{run_id}`` object."""
        return self.model_dump(mode="json")


_ACTIVE: BackgroundRuns | None = None


class BackgroundRuns:
    """Runs of named agents, queued on DBOS in the memory's database.

    ``agents`` maps names to an agent (shared by all runs) or a zero-argument
    factory (called per run; its agent is closed after it). Use ``async with``
    (or :meth:`start` / :meth:`aclose`) inside the event loop that should run
    the queued workflows.
    """

    def __init__(
        self,
        agents: Mapping[str, AgentSource],
        *,
        memory: MemoryStore,
        settings: QueueSettings | None = None,
        lease_s: float | None = None,
    ) -> None:
        if not agents:
            raise ValueError("BackgroundRuns needs at least one agent")
        self._agents = dict(agents)
        self.memory = memory
        self.settings = settings or QueueSettings()
        self.ledger = RunLedger.for_store(memory, lease_s=lease_s)
        self._queue: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running: set[str] = set()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Launch DBOS on this event loop; queued and recovered runs start from now on.

        DBOS creates or migrates its tables first, blocking the loop for that moment.
        """
        global _ACTIVE
        dbos = require_dbos()
        if _ACTIVE is not None:
            raise RuntimeError("one BackgroundRuns per process (DBOS is process-wide)")
        await self.memory.ensure_schema()
        _workflow()  # registered before launch, so launch can recover its runs
        settings = self.settings
        config: dict[str, Any] = {
            "name": _APP_NAME,
            "system_database_url": system_database_url(self.memory),
            "application_version": _WORKFLOW_VERSION,
            "serializer": dbos.DBOSPortableJSONSerializer(),
            "log_level": "ERROR",  # its warnings would print workflow inputs (questions)
        }
        if settings.executor_id is not None:
            config["executor_id"] = settings.executor_id
        _ACTIVE = self
        try:
            dbos.DBOS(config=config)
            dbos.DBOS.launch()  # called on this loop, so DBOS runs workflows here
            self._queue = await dbos.DBOS.register_queue_async(
                settings.name,
                worker_concurrency=settings.worker_concurrency,
                global_concurrency=settings.concurrency,
                polling_interval_sec=settings.polling_interval_s,
                on_conflict="always_update",
            )
        except BaseException:
            await self._destroy()
            raise

    async def aclose(self, *, grace_s: float = 5.0) -> None:
        """Stop DBOS; runs still going after ``grace_s`` are cancelled and stay resumable."""
        if _ACTIVE is not self:
            return
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)
        await self._destroy()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _destroy(self) -> None:
        global _ACTIVE
        from dbos import DBOS

        # DBOS made its thread pool this loop's default executor; it goes with DBOS.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
        await asyncio.to_thread(DBOS.destroy)
        self._queue, _ACTIVE = None, None

    async def __aenter__(self) -> BackgroundRuns:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --------------------------------------------------------------- public

    async def submit(
        self, agent: str, question: str, *, thread_id: str | None = None
    ) -> BackgroundRun:
        """Queue a run; returns at once with its id (status ``queued``).

        Raises ``KeyError`` for an unknown agent, ``ValueError`` for an empty
        question and :class:`~ponder.memory.ThreadBusy` when the thread has a
        run in progress, waiting for approval, or queued.
        """
        from dbos import SetEnqueueOptions, SetWorkflowID, error

        if self._queue is None:
            raise RuntimeError("BackgroundRuns.start() was not called")
        if agent not in self._agents:
            raise KeyError(f"no agent named {agent!r}; available: {list(self._agents)}")
        text = neutralise_markers(well_formed(question))  # stored as the turn will be
        if not text.strip():
            raise ValueError("the question is empty")
        thread_id = thread_id or uuid.uuid4().hex
        holder = await self.ledger.active_run(thread_id)
        if holder is not None:
            raise ThreadBusy(thread_id, holder.run_id, holder.status)
        run_id = uuid.uuid4().hex
        with SetWorkflowID(run_id), SetEnqueueOptions(deduplication_id=thread_id):
            try:
                await self._queue.enqueue_async(_workflow(), agent, text, thread_id, run_id)
            except error.DBOSQueueDeduplicatedError:
                raise ThreadBusy(thread_id, "", "queued") from None
        return BackgroundRun(run_id=run_id, thread_id=thread_id, agent=agent, status="queued")

    async def get(self, run_id: str) -> BackgroundRun:
        """Where the run stands (any run of the ledger, queued or not); :class:`RunNotFound`."""
        info = await self.ledger.get(run_id)
        flow = await _workflow_status(run_id)
        if info is None:
            if flow is None:
                raise RunNotFound(run_id)
            args = list((flow.input or {}).get("args", ()))
            agent, thread_id = (str(args[0]), str(args[2])) if len(args) == 4 else (None, None)
            return BackgroundRun(
                run_id=run_id,
                thread_id=thread_id,
                agent=agent,
                status=_WORKFLOW_STATUS.get(flow.status, "failed"),
                error=_error_of(flow),
            )
        status: BackgroundStatus = "abandoned" if info.abandoned else info.status  # type: ignore[assignment]
        fields: dict[str, Any] = {}
        if status == "failed":
            fields["error"] = _error_of(flow) if flow is not None else None
        elif status in ("done", "awaiting_approval"):
            output = flow.output if flow is not None and flow.status == "SUCCESS" else None
            if isinstance(output, dict) and output.get("outcome") not in (None, _PAUSED):
                fields.update(outcome=output["outcome"], answer=output.get("answer"))
            else:  # not a background run, or one continued by decisions since
                result = await self._result_of(info)
                if result is not None:
                    fields.update(
                        outcome=result.outcome,
                        answer=_output(result)["answer"],
                        pending=result.pending,
                    )
        return BackgroundRun(
            run_id=run_id, thread_id=info.thread_id, agent=info.agent, status=status, **fields
        )

    async def wait(self, run_id: str, *, timeout_s: float | None = None) -> BackgroundRun:
        """Wait until the run's workflow ended (done, paused or failed), then :meth:`get`.

        Raises :class:`RunNotFound` for an id that was never queued, ``TimeoutError``.
        """
        from dbos import DBOS, PortableWorkflowError, WorkflowHandleAsync, error

        try:
            handle: WorkflowHandleAsync[Any] = await DBOS.retrieve_workflow_async(run_id)
        except error.DBOSNonExistentWorkflowError:
            raise RunNotFound(run_id) from None
        async with asyncio.timeout(timeout_s):
            # a failed run raises its recorded error (rebuilt from JSON); get() reports it
            with contextlib.suppress(BackgroundRunFailed, PortableWorkflowError):
                await handle.get_result(polling_interval_sec=self.settings.polling_interval_s)
        return await self.get(run_id)

    async def recover(self, run_id: str) -> bool:
        """Put an abandoned background run back on the queue, for any worker to resume.

        ``False`` when the queue cannot resume it (not a background run, or its
        workflow has ended, e.g. a paused run continued by decisions since):
        the caller recovers it as any other run.
        """
        from dbos import DBOS

        flow = await _workflow_status(run_id)
        if flow is None:
            return False
        if flow.status in ("ENQUEUED", "DELAYED"):
            return True  # already back on a queue
        if flow.status != "PENDING":
            return False
        if run_id not in self._running:  # here, its step waits for the lease itself
            await DBOS.resume_workflow_async(run_id, queue_name=self.settings.name)
        return True

    # ------------------------------------------------------ the queued step

    async def _drive(self, name: str, question: str, thread_id: str, run_id: str) -> dict[str, Any]:
        """Take the run to its end (starting, resuming or waiting for it); its outcome."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._running.add(run_id)
        try:
            async with self._agent(name) as agent:
                return await self._settle(agent, name, question, thread_id, run_id)
        except asyncio.CancelledError:
            await asyncio.shield(self._leave_resumable(run_id))
            raise
        finally:
            self._tasks.discard(task)
            self._running.discard(run_id)

    async def _settle(
        self, agent: StreamingAgent, name: str, question: str, thread_id: str, run_id: str
    ) -> dict[str, Any]:
        ledger = self.ledger
        while True:
            info = await ledger.get(run_id)
            if info is None:
                try:
                    await ledger.start(thread_id, question, agent=name, run_id=run_id)
                except ThreadBusy as exc:
                    if exc.run_id == run_id:
                        continue  # another execution of this workflow just started it
                    raise BackgroundRunFailed(str(exc)) from None
                except IntegrityError:
                    continue  # ... and has even finished it
                return await self._fresh(agent, question, thread_id, run_id)
            if info.status == "running" and info.abandoned:
                if not isinstance(agent, Agent):
                    with contextlib.suppress(RunNotClaimable):
                        await ledger.claim(run_id, awaiting=False)
                        await ledger.finish(run_id, "failed")
                    raise BackgroundRunFailed(f"agent {name!r} runs cannot be resumed")
                try:
                    return await self._run(agent, run_id, agent.aresume(run_id))
                except RunNotClaimable:
                    continue  # another process took it first
                except RunNotFound:  # its process died before the first checkpoint
                    try:
                        await ledger.claim(run_id, awaiting=False)
                    except RunNotClaimable:
                        continue
                    return await self._fresh(agent, question, thread_id, run_id)
            elif info.status == "running":  # its process holds a live lease (or just died)
                await asyncio.sleep(min(1.0, ledger.lease_s / 3))
            else:
                return await self._ended(info)

    async def _fresh(
        self, agent: StreamingAgent, question: str, thread_id: str, run_id: str
    ) -> dict[str, Any]:
        """Run from the start on the run id this process now holds in the ledger."""
        HELD_RUN.set(HeldRun(run_id=run_id, thread_id=thread_id))
        return await self._run(agent, run_id, agent.arun(question, thread_id=thread_id))

    async def _run(
        self, agent: StreamingAgent, run_id: str, work: Coroutine[Any, Any, RunResult]
    ) -> dict[str, Any]:
        status: Literal["running", "awaiting_approval", "done", "failed"] = "failed"
        try:
            result = await work
            status = "awaiting_approval" if result.outcome == _PAUSED else "done"
            return _output(result)
        except asyncio.CancelledError:
            status = "running"
            raise
        except (RunNotClaimable, RunNotFound):
            raise
        except BackendError as exc:
            raise BackgroundRunFailed(f"model error ({type(exc).__name__})") from None
        except Exception as exc:
            raise BackgroundRunFailed(f"failed ({type(exc).__name__})") from None
        finally:
            if self.ledger.holds(run_id):  # agents that do not keep the ledger themselves
                await asyncio.shield(self.ledger.finish(run_id, status))

    async def _ended(self, info: RunInfo) -> dict[str, Any]:
        """The outcome of a run that ended before this execution of its workflow saw it."""
        if info.status in ("done", "awaiting_approval"):
            result = await self._result_of(info)
            return _output(result) if result is not None else {"outcome": None, "answer": None}
        raise BackgroundRunFailed(f"the run is {info.status}")

    async def _leave_resumable(self, run_id: str) -> None:
        """A run cancelled here (shutdown) is left for another process to resume."""
        info = await self.ledger.get(run_id)
        mine = info is not None and info.owner == self.ledger.owner
        if mine and info is not None and info.status in ("running", "cancelled"):
            await self.ledger.finish(run_id, "running")

    # -------------------------------------------------------------- helpers

    async def _result_of(self, info: RunInfo) -> RunResult | None:
        if info.agent not in self._agents:
            return None
        async with self._agent(info.agent) as agent:
            if not isinstance(agent, Agent):
                return None
            try:
                return await agent.result_of(info.run_id)
            except (RunNotFound, TypeError):  # no checkpoint, or an agent without them
                return None

    @asynccontextmanager
    async def _agent(self, name: str) -> AsyncIterator[StreamingAgent]:
        source = self._agents[name]
        if isinstance(source, StreamingAgent):
            yield source
            return
        agent = source()
        try:
            yield agent
        finally:
            await agent.aclose()


_PAUSED = "awaiting_approval"


def system_database_url(memory: MemoryStore) -> str:
    """DBOS's system database: the memory's own (SQLite file, or PostgreSQL database)."""
    url = memory.engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}"
    return url.render_as_string(hide_password=False)


def _output(result: RunResult) -> dict[str, Any]:
    """What the workflow returns and DBOS stores: the outcome and the answer, nothing else."""
    return {"outcome": result.outcome, "answer": result.to_json_dict()["answer"]}


def _error_of(flow: Any) -> str | None:
    error = getattr(flow, "error", None)
    return str(error) if error is not None else None


async def _workflow_status(run_id: str) -> Any:
    from dbos import DBOS

    return await DBOS.get_workflow_status_async(run_id)


def _active() -> BackgroundRuns:
    if _ACTIVE is None:
        raise RuntimeError("no BackgroundRuns is running in this process")
    return _ACTIVE


@functools.cache
def _workflow() -> Callable[..., Coroutine[Any, Any, dict[str, Any]]]:
    """The DBOS workflow of a background run (registered once per process)."""
    from dbos import DBOS

    @DBOS.step(name="ponder.run_agent")
    async def run_agent(agent: str, question: str, thread_id: str, run_id: str) -> dict[str, Any]:
        return await _active()._drive(agent, question, thread_id, run_id)

    @DBOS.workflow(name="ponder.background_run")
    async def background_run(
        agent: str, question: str, thread_id: str, run_id: str
    ) -> dict[str, Any]:
        return await run_agent(agent, question, thread_id, run_id)

    return background_run
