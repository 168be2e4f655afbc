"""Durable runs of an :class:`~ponder.agents.Agent`: checkpoints, leases, pause and resume.

Each run of the reason–act graph is a LangGraph thread whose id is the run
id, checkpointed after every step (``durability="sync"``) through a redacting
checkpointer: by default in the memory's own database (SQLite file or
PostgreSQL), or in process memory when the agent has no memory. With memory,
the :class:`~ponder.memory.RunLedger` claims the thread in the database (one
run per thread across processes) and leases the run while it executes.

Resuming never needs reasoning: the graph state holds none, completed tool
calls are LangGraph tasks whose results are in the checkpoint, and tool
calls made before the pause or crash are folded for providers that would
want their reasoning back (:mod:`ponder.graphs.resume_fold`).

Another graph becomes durable in a subclass that overrides the hooks (its
graph, fresh input and per-segment context), as the debugger's runs do.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Checkpointer, Command
from pydantic import BaseModel

from ponder.graphs.approval import (
    Decision,
    InvalidDecision,
    PendingCall,
    decision_from_json,
    validate_decisions,
)
from ponder.graphs.react import build_react_graph
from ponder.memory import RedactingSerializer, postgres_checkpointer, sqlite_checkpointer
from ponder.memory.runs import RunLedger, RunNotClaimable, RunNotFound, RunStatus

if TYPE_CHECKING:
    from ponder.agents.agent import Agent
    from ponder.agents.result import RunResult

__all__ = ["HELD_RUN", "DurableRuns", "HeldRun", "RunSpec"]

_FRESH = "fresh"
_FINISHED = "finished"


@dataclass
class HeldRun:
    """A run whose thread the caller (e.g. the server) already claimed in the ledger."""

    run_id: str
    thread_id: str
    used: bool = False


HELD_RUN: contextvars.ContextVar[HeldRun | None] = contextvars.ContextVar(
    "ponder_held_run", default=None
)
"""Set by a caller that claimed the thread itself; the first run on that thread adopts it."""


@dataclass
class RunSpec:
    """One segment of a run: what to feed the graph and who finishes the lease."""

    run_id: str
    thread_id: str
    question: str
    started_at: datetime
    durable: bool
    input: Any = _FRESH
    graph: Any = None
    owns_lease: bool = False
    pending: list[PendingCall] = field(default_factory=list)
    decided: frozenset[str] = frozenset()
    instructions: str | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "ponder_thread_id": self.thread_id,
            "ponder_question": self.question,
            "ponder_started_at": self.started_at.isoformat(),
        }


class DurableRuns:
    """The durable-run machinery of one agent."""

    def __init__(self, agent: Agent, react_graph: Any, checkpointer: Checkpointer) -> None:
        self._agent = agent
        self._react_graph = react_graph
        self._given = checkpointer
        self._graph: Any = react_graph if checkpointer is not None else None
        self._stack: AsyncExitStack | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._active: set[str] = set()

    @property
    def ledger(self) -> RunLedger | None:
        memory = self._agent.memory
        return RunLedger.for_store(memory) if memory is not None else None

    def _is_durable(self) -> bool:
        """Whether runs are checkpointed: only the agent's own reason–act graph is here; a
        subclass that declares another graph with the hooks below says yes."""
        from ponder.agents.agent import Agent

        own_chunks = type(self._agent)._graph_chunks is Agent._graph_chunks
        return own_chunks and self._agent._graph is self._react_graph

    # ------------------------------------------------ hooks for subclasses

    def _durable_graph_builder(self, checkpointer: Checkpointer) -> Any:
        """The run's graph, compiled with ``checkpointer``."""
        return build_react_graph(checkpointer=checkpointer)

    async def _durable_input(self, spec: RunSpec) -> Any:
        """The graph's input for a fresh run."""
        agent = self._agent
        messages = await agent._opening_messages(spec.question, spec.thread_id, spec.instructions)
        return {"messages": messages, "steps": 0, "tool_calls_made": 0}

    @asynccontextmanager
    async def _durable_context(
        self, spec: RunSpec, emit: Callable[[Any], None]
    ) -> AsyncIterator[Any]:
        """The graph's context for one segment of the run (never checkpointed)."""
        context = self._agent._context(emit)
        context.decided = spec.decided
        context.durable_tools = True
        context.run_id = spec.run_id
        yield context

    def _recursion_limit(self) -> int:
        return 4 * self._agent.budgets.max_steps + 20

    def _check_resumable(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Raise :class:`RunNotClaimable` when this agent cannot continue the run."""

    # ---------------------------------------------------------- run starts

    async def start(self, question: str, thread_id: str) -> RunSpec:
        """Claim the thread (or adopt the caller's claim) and describe a fresh run."""
        durable = self._is_durable()
        held = HELD_RUN.get()
        ledger = self.ledger
        if held is not None and held.thread_id == thread_id:
            run_id, owns = (held.run_id, durable) if not held.used else (_new_id(), False)
            held.used = True
        elif ledger is not None:
            run_id, owns = await ledger.start(thread_id, question), True
        else:
            run_id, owns = _new_id(), False
        spec = RunSpec(
            run_id=run_id,
            thread_id=thread_id,
            question=question,
            started_at=datetime.now(UTC),
            durable=durable,
            owns_lease=owns and ledger is not None,
        )
        if durable:
            try:
                spec.graph = await self._durable_graph()
            except BaseException:
                await self.release(spec, "failed")
                raise
        self._active.add(run_id)
        return spec

    async def pending(self, run_id: str) -> list[PendingCall]:
        """The calls the run waits on ([] when it is not paused); :class:`RunNotFound`."""
        if not self._is_durable():
            raise TypeError(f"{type(self._agent).__name__} runs cannot be resumed")
        graph = await self._durable_graph()
        snapshot = await graph.aget_state({"configurable": {"thread_id": run_id}})
        if not snapshot.values and not snapshot.next:
            raise RunNotFound(run_id)
        self._check_resumable(run_id, snapshot.values)
        return pending_of(snapshot)

    async def ended(self, run_id: str) -> RunResult | None:
        """The result of a run that finished or paused, from its checkpoint; ``None`` if neither.

        Raises :class:`RunNotFound`. The checkpoint holds no reasoning, so neither does this.
        """
        if not self._is_durable():
            raise TypeError(f"{type(self._agent).__name__} runs cannot be resumed")
        graph = await self._durable_graph()
        snapshot = await graph.aget_state({"configurable": {"thread_id": run_id}})
        if not snapshot.values and not snapshot.next:
            raise RunNotFound(run_id)
        pending = pending_of(snapshot)
        if snapshot.next and not pending:
            return None
        thread_id = str((snapshot.metadata or {}).get("ponder_thread_id", ""))
        result = self._agent._result(dict(snapshot.values), thread_id, "")  # type: ignore[arg-type]
        spec = RunSpec(run_id, thread_id, "", datetime.now(UTC), durable=True, pending=pending)
        return self.finish_result(spec, result)

    async def check(
        self, run_id: str, decisions: Mapping[str, Decision | Mapping[str, Any]] | None
    ) -> str:
        """Validate ``decisions`` for the run without taking it; the run's thread id."""
        plan = await self._plan(run_id, decisions)
        return str(plan[3].get("ponder_thread_id", ""))

    async def _plan(
        self, run_id: str, decisions: Mapping[str, Decision | Mapping[str, Any]] | None
    ) -> tuple[Any, list[PendingCall], Any, dict[str, Any]]:
        if not self._is_durable():
            raise TypeError(f"{type(self._agent).__name__} runs cannot be resumed")
        graph = await self._durable_graph()
        snapshot = await graph.aget_state({"configurable": {"thread_id": run_id}})
        if not snapshot.values and not snapshot.next:
            raise RunNotFound(run_id)
        self._check_resumable(run_id, snapshot.values)
        pending = pending_of(snapshot)
        run_input: Any
        if pending:
            if not decisions:
                ids = ", ".join(call.call_id for call in pending)
                raise InvalidDecision(f"run {run_id} is waiting for decisions on calls {ids}")
            parsed = {
                call_id: d if isinstance(d, BaseModel) else decision_from_json(d)
                for call_id, d in decisions.items()
            }
            validate_decisions(self._agent.toolbox, pending, parsed)
            run_input = Command(resume={k: v.model_dump(mode="json") for k, v in parsed.items()})
        elif decisions:
            raise RunNotClaimable(run_id, "it is not waiting for approval")
        else:
            run_input = None if snapshot.next else _FINISHED
        return graph, pending, run_input, dict(snapshot.metadata or {})

    async def resume(
        self, run_id: str, decisions: Mapping[str, Decision | Mapping[str, Any]] | None
    ) -> RunSpec:
        """Describe the continuation of a paused or abandoned run, claiming it first."""
        graph, pending, run_input, meta = await self._plan(run_id, decisions)
        ledger = self.ledger
        if run_id in self._active:
            raise RunNotClaimable(run_id, "it is running in this process")
        if ledger is not None and not ledger.holds(run_id):
            await ledger.claim(run_id, awaiting=bool(pending))
        self._active.add(run_id)
        started = meta.get("ponder_started_at")
        return RunSpec(
            run_id=run_id,
            thread_id=str(meta.get("ponder_thread_id", "")),
            question=str(meta.get("ponder_question", "")),
            started_at=datetime.fromisoformat(started) if started else datetime.now(UTC),
            durable=True,
            input=run_input,
            graph=graph,
            owns_lease=ledger is not None,
            decided=frozenset(decisions or ()),
        )

    # ------------------------------------------------------------- running

    async def chunks(self, spec: RunSpec, emit: Callable[[Any], None]) -> AsyncGenerator[Any, None]:
        """The graph's chunks for this segment; sets ``spec.pending`` when it pauses."""
        config: RunnableConfig = {
            "recursion_limit": self._recursion_limit(),
            "configurable": {"thread_id": spec.run_id},
            "metadata": spec.metadata,
        }
        if spec.input == _FINISHED:
            snapshot = await spec.graph.aget_state(config)
            yield dict(snapshot.values)
            return
        run_input = await self._durable_input(spec) if spec.input == _FRESH else spec.input
        async with self._durable_context(spec, emit) as context:
            async for _mode, chunk in spec.graph.astream(
                run_input,
                config,
                context=context,
                stream_mode=["custom", "values"],
                durability=self._agent.durability,
            ):
                yield chunk
        spec.pending = pending_of(await spec.graph.aget_state(config))

    def finish_result(self, spec: RunSpec, result: RunResult) -> RunResult:
        """The result with the run id, and the pending calls when the run paused."""
        update: dict[str, Any] = {"run_id": spec.run_id}
        if spec.pending:
            update.update(
                outcome="awaiting_approval", pending=spec.pending, answer=None, answer_text=None
            )
        return result.model_copy(update=update)

    async def release(self, spec: RunSpec, status: RunStatus) -> None:
        """End this segment: record the run's status and stop renewing its lease."""
        self._active.discard(spec.run_id)
        ledger = self.ledger
        if spec.owns_lease and ledger is not None:
            await asyncio.shield(ledger.finish(spec.run_id, status))

    # --------------------------------------------------------- checkpoints

    async def _durable_graph(self) -> Any:
        if self._given is not None:
            return self._react_graph
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # connections belong to the loop that opened them
            self._loop, self._lock, self._graph, self._stack = loop, asyncio.Lock(), None, None
        async with self._lock:
            if self._graph is None:
                self._stack = AsyncExitStack()
                saver = await self._open_checkpointer(self._stack)
                self._graph = self._durable_graph_builder(saver)
        return self._graph

    async def _open_checkpointer(self, stack: AsyncExitStack) -> Checkpointer:
        memory = self._agent.memory
        if memory is None:
            return InMemorySaver(serde=RedactingSerializer())
        url, fence = memory.engine.url, self.ledger  # fence: a taken-over run writes nothing
        if url.get_backend_name() == "sqlite":
            return await stack.enter_async_context(
                sqlite_checkpointer(str(url.database), fence=fence)
            )
        return await stack.enter_async_context(
            postgres_checkpointer(url.render_as_string(hide_password=False), fence=fence)
        )

    async def aclose(self) -> None:
        stack, self._stack = self._stack, None
        self._graph = self._react_graph if self._given is not None else None
        if stack is not None and self._loop is asyncio.get_running_loop():
            await stack.aclose()


def pending_of(snapshot: Any) -> list[PendingCall]:
    """The calls a paused run waits on (from its interrupts)."""
    calls: list[PendingCall] = []
    for item in getattr(snapshot, "interrupts", ()) or ():
        value = item.value
        if isinstance(value, dict):
            calls.extend(PendingCall.model_validate(c) for c in value.get("calls", []))
    return calls


def _new_id() -> str:
    return uuid.uuid4().hex
