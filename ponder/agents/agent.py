"""``Agent``: a backend, tools, a graph, memory and budgets behind one API."""

from __future__ import annotations

import asyncio
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, Self

from langchain_core.runnables import RunnableConfig
from langgraph.types import Checkpointer
from pydantic import BaseModel

from ponder.agents._unwind import cancel_and_wait
from ponder.agents.durable import DurableRuns, RunSpec
from ponder.agents.prompts import DEFAULT_SYSTEM_PROMPT, DEFAULT_TEMPERATURE, DEFAULT_TOP_P
from ponder.agents.result import FinalEvent, RunResult
from ponder.backends.markers import neutralise_markers
from ponder.backends.protocol import ChatBackend
from ponder.backends.types import Message, SystemMessage, Usage, UserMessage
from ponder.backends.wellformed import well_formed
from ponder.graphs.answer_format import AnswerFormat, InvalidAnswer
from ponder.graphs.approval import ApprovalPolicy, Decision, PendingCall
from ponder.graphs.budgets import Budgets, Outcome
from ponder.graphs.events import ErrorEvent, ReasoningEvent, RunEvent
from ponder.graphs.react import ReactContext, ReactState, build_react_graph
from ponder.memory import MemoryStore, ToolCallSummary
from ponder.memory._uninterrupted import run_to_end
from ponder.memory.runs import RunStatus
from ponder.telemetry import hooks as telemetry
from ponder.tools import ToolBox

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "Agent",
    "AgentEvent",
    "StreamingAgent",
    "save_turn",
]

AgentEvent = RunEvent | FinalEvent


class SupportsAclose(Protocol):
    async def aclose(self) -> None: ...


class StreamingAgent(ABC):
    """What every agent offers (:class:`Agent`, the math tutor, the debugger).

    Subclasses define ``astream`` and ``aclose``; ``run``, ``arun`` and
    ``async with`` come from here.
    """

    @abstractmethod
    def astream(
        self, question: str, *, thread_id: str | None = None, instructions: str | None = None
    ) -> AsyncIterator[AgentEvent]:
        """Stream the run's events; ``instructions`` join the agent's system message."""

    @abstractmethod
    async def aclose(self) -> None: ...

    def run(
        self, question: str, *, thread_id: str | None = None, instructions: str | None = None
    ) -> RunResult:
        """Synchronous :meth:`arun` (not for use inside a running event loop)."""
        return asyncio.run(self.arun(question, thread_id=thread_id, instructions=instructions))

    async def arun(
        self, question: str, *, thread_id: str | None = None, instructions: str | None = None
    ) -> RunResult:
        """Run to the end and return the result."""
        async for event in self.astream(question, thread_id=thread_id, instructions=instructions):
            if isinstance(event, FinalEvent):
                return event.result
        raise RuntimeError("the run ended without a result")  # astream always ends with one

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


_PREVIEW_CHARS = 2_000
_DONE = object()
_TIMED_OUT = object()


class Agent(StreamingAgent):
    """A reasoning-model agent.

    ``closing`` lists resources the agent owns and closes in :meth:`aclose`.
    ``memory`` stores each completed turn (question and final answer only)
    and supplies the collapsed history of a thread. Without it, runs are
    independent. ``response_schema`` (a JSON Schema dict or a pydantic model)
    turns on JSON mode: the final answer must validate, and is returned as the
    validated value.

    Runs are durable: checkpointed after every step (redacted) in the memory's
    database, or in process memory without memory, so they can pause for
    ``approvals`` (tool name → ``"never"``, ``"always"`` or a predicate on the
    validated arguments) and be resumed by id (:meth:`aresume`), also by
    another process after a crash. ``durable=False`` turns checkpoints off.
    ``durability="sync"`` (the default) saves each step before the next starts;
    ``"async"`` saves it while the next step runs (cheaper on PostgreSQL, but a
    crash in that moment may lose the last step, so a finished tool call could
    run again).

    ``mcp_servers`` (:class:`~ponder.tools.mcp.StdioServer`,
    :class:`~ponder.tools.mcp.HttpServer` or ``--mcp``-style strings; needs
    ``ponder[mcp]``) adds those servers' tools, listed at the first run; the
    agent closes their sessions.
    """

    def __init__(
        self,
        backend: ChatBackend,
        tools: Iterable[Any] = (),
        *,
        memory: MemoryStore | None = None,
        system_prompt: str | None = None,
        budgets: Budgets | None = None,
        response_schema: dict[str, Any] | type[BaseModel] | None = None,
        checkpointer: Checkpointer = None,
        history_turns: int = 20,
        temperature: float | None = DEFAULT_TEMPERATURE,
        top_p: float | None = DEFAULT_TOP_P,
        force_thinking: bool = False,
        reasoning_effort: str | None = None,
        strict_tools: bool = False,
        max_tool_concurrency: int = 4,
        closing: Iterable[SupportsAclose] = (),
        approvals: Mapping[str, ApprovalPolicy] | None = None,
        durable: bool = True,
        durability: Literal["sync", "async"] = "sync",
        mcp_servers: Iterable[Any] = (),
    ) -> None:
        self.backend = backend
        self.toolbox = (
            tools
            if isinstance(tools, ToolBox)
            else ToolBox(tools, max_concurrency=max_tool_concurrency)
        )
        self.memory = memory
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
        self.budgets = budgets or Budgets()
        self.answer_format = AnswerFormat(response_schema) if response_schema is not None else None
        self.history_turns = history_turns
        self._options = {
            "temperature": temperature,
            "top_p": top_p,
            "force_thinking": force_thinking,
            "reasoning_effort": reasoning_effort,
            "strict_tools": strict_tools,
        }
        self._closing = list(closing)
        self._mcp = _mcp_toolset(mcp_servers)
        if self._mcp is not None:
            self._closing.append(self._mcp)
        self._checkpointing = checkpointer is not None
        self._graph = build_react_graph(checkpointer=checkpointer)
        self.approvals = dict(approvals or {})
        for name in self.approvals:
            self.toolbox.get(name)  # KeyError names the tools there are
        self.durability = durability
        if not durable and (self.approvals or checkpointer is not None):
            raise ValueError("approvals and a checkpointer need durable=True")
        self._durable = DurableRuns(self, self._graph if durable else None, checkpointer)

    # ------------------------------------------------------------ public API

    async def aclose(self) -> None:
        """Close what the agent owns (e.g. a code-runner session), not the backend."""
        await self._durable.aclose()
        while self._closing:
            await self._closing.pop().aclose()

    async def astream(
        self, question: str, *, thread_id: str | None = None, instructions: str | None = None
    ) -> AsyncIterator[AgentEvent]:
        """Stream typed events; the last one is a :class:`FinalEvent`.

        ``instructions`` (e.g. an API client's system message) are appended to
        the agent's system prompt for this run; they are not stored.

        Backend errors are yielded as an :class:`ErrorEvent`, then raised.
        Closing the iterator early cancels the run; nothing is saved. A run
        that pauses for approval ends with ``outcome == "awaiting_approval"``
        (see :meth:`astream_resume`). With memory, the thread is claimed in the
        database first: :class:`~ponder.memory.ThreadBusy` if another run has it.
        """
        question = well_formed(self._checked_question(question))
        await self._ready_tools()
        spec = await self._durable.start(question, thread_id or uuid.uuid4().hex)
        spec.instructions = instructions
        async with aclosing(self._stream(spec)) as events:
            async for event in events:
                yield event

    async def astream_resume(
        self, run_id: str, decisions: Mapping[str, Decision | Mapping[str, Any]] | None = None
    ) -> AsyncGenerator[AgentEvent, None]:
        """Continue a paused run (with ``decisions`` for its pending calls) or an abandoned one.

        Same events as :meth:`astream`. Completed tool calls are not run again.
        Raises :class:`~ponder.memory.RunNotFound`,
        :class:`~ponder.memory.RunNotClaimable` (running elsewhere, finished,
        or not waiting) or :class:`~ponder.graphs.approval.InvalidDecision`.
        """
        await self._ready_tools()
        spec = await self._durable.resume(run_id, decisions)
        async with aclosing(self._stream(spec)) as events:
            async for event in events:
                yield event

    async def pending(self, run_id: str) -> list[PendingCall]:
        """The calls a run waits on (``[]`` if it is not paused); raises ``RunNotFound``."""
        return await self._durable.pending(run_id)

    async def result_of(self, run_id: str) -> RunResult | None:
        """The result of a run that finished or paused, read from its checkpoint (no reasoning).

        ``None`` while the run can still go on (running, or abandoned by a dead
        process); raises :class:`~ponder.memory.RunNotFound` for an unknown run.
        """
        return await self._durable.ended(run_id)

    async def check_decisions(
        self, run_id: str, decisions: Mapping[str, Decision | Mapping[str, Any]] | None
    ) -> str:
        """Validate ``decisions`` for a paused run without resuming it; returns its thread id.

        Raises what :meth:`astream_resume` raises for a run or decisions that do not fit.
        """
        return await self._durable.check(run_id, decisions)

    async def aresume(
        self, run_id: str, decisions: Mapping[str, Decision | Mapping[str, Any]] | None = None
    ) -> RunResult:
        """:meth:`astream_resume` to the end; returns the result."""
        async for event in self.astream_resume(run_id, decisions):
            if isinstance(event, FinalEvent):
                return event.result
        raise RuntimeError("the run ended without a result")

    def resume(
        self, run_id: str, decisions: Mapping[str, Decision | Mapping[str, Any]] | None = None
    ) -> RunResult:
        """Synchronous :meth:`aresume` (not for use inside a running event loop)."""
        return asyncio.run(self.aresume(run_id, decisions))

    async def _ready_tools(self) -> None:
        """List the MCP servers' tools (once) before a run uses the toolbox."""
        if self._mcp is not None:
            await self._mcp.add_tools_to(self.toolbox)

    async def _stream(self, spec: RunSpec) -> AsyncGenerator[AgentEvent, None]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        run = telemetry.start_run(self, self.backend, spec.thread_id, spec.question)
        producer = asyncio.create_task(
            self._produce(spec, queue), context=telemetry.run_context(run)
        )
        reasoning: list[str] = []
        reasoning_step, in_thought = 0, False
        final_state: dict[str, Any] = {}
        status: RunStatus = "cancelled"
        released = False
        try:
            while (item := await queue.get()) is not _DONE:
                if item is _TIMED_OUT:
                    final_state = {**final_state, "outcome": "wall_time"}
                elif isinstance(item, BaseException):
                    status = "failed"
                    yield ErrorEvent(
                        step=final_state.get("steps", 0),
                        kind=type(item).__name__,
                        message=str(item),
                    )
                    raise item
                elif isinstance(item, dict):
                    final_state = {k: v for k, v in item.items() if k != "__interrupt__"}
                else:
                    if isinstance(item, ReasoningEvent):
                        if reasoning and (item.step != reasoning_step or not in_thought):
                            reasoning.append("\n\n")  # each model call's thought on its own
                        reasoning_step = item.step
                        reasoning.append(item.text)
                    in_thought = isinstance(item, ReasoningEvent)
                    yield item
            result = self._result(final_state, spec.thread_id, "".join(reasoning))  # type: ignore[arg-type]
            result = self._durable.finish_result(spec, result)
            telemetry.finish_run(run, result, final_state)
            if result.ok and self.memory is not None:
                await save_turn(self.memory, spec.question, result, spec.started_at)
            # Released before the last event: a caller that stops at it (arun) may
            # never close this generator.
            await self._durable.release(spec, "awaiting_approval" if spec.pending else "done")
            released = True
            yield FinalEvent(result=result)
        except BaseException as exc:  # an error, or the caller stopped early (cancelled)
            if not released:
                telemetry.fail_run(run, exc)
            raise
        finally:
            try:
                # Cancelled once and waited for to the end: a second cancel (anyio
                # repeats them) would cut LangGraph's clean-up short, and leave a
                # tool or the model stream running.
                await cancel_and_wait(producer)
            finally:
                if not released:
                    await run_to_end(self._durable.release(spec, status))

    # ------------------------------------------------- hooks for subclasses

    def _checked_question(self, question: str) -> str:
        """The question to run; subclasses may allow an empty one."""
        if not question.strip():
            raise ValueError("the question is empty")
        return question

    async def _graph_chunks(
        self,
        question: str,
        thread_id: str,
        emit: Callable[[Any], None],
        instructions: str | None = None,
    ) -> AsyncGenerator[Any, None]:
        """The graph's state snapshots (and ``custom`` events) for one run.

        ``emit`` hands an event straight to the caller; nodes that get it
        through :class:`ReactContext` skip LangGraph's stream for their
        events. Subclasses with another graph override this (and
        :meth:`_result`); the queue, the wall-time budget, cancellation and
        saving stay here.
        """
        context = self._context(emit)
        config: RunnableConfig = {"recursion_limit": 4 * self.budgets.max_steps + 20}
        if self._checkpointing:
            config["configurable"] = {"thread_id": f"{thread_id}/{uuid.uuid4().hex}"}
        messages = await self._opening_messages(question, thread_id, instructions)
        state: ReactState = {"messages": messages, "steps": 0, "tool_calls_made": 0}
        async for _mode, chunk in self._graph.astream(
            state, config, context=context, stream_mode=["custom", "values"]
        ):
            yield chunk

    # -------------------------------------------------------------- helpers

    async def _opening_messages(
        self, question: str, thread_id: str, instructions: str | None = None
    ) -> list[Message]:
        system = self.system_prompt
        if instructions:
            system = f"{system}\n\n{instructions}".strip()
        if self.answer_format is not None:
            system = f"{system}\n\n{self.answer_format.instructions()}".strip()
        messages: list[Message] = [SystemMessage(content=system)] if system else []
        if self.memory is not None:
            messages.extend(await self.memory.history_messages(thread_id, last=self.history_turns))
        messages.append(UserMessage(content=question))
        return messages

    def _context(self, emit: Callable[[Any], None]) -> ReactContext:
        return ReactContext(
            backend=self.backend,
            toolbox=self.toolbox,
            budgets=self.budgets,
            answer_format=self.answer_format,
            emit=emit,
            approvals=self.approvals,
            **self._options,  # type: ignore[arg-type]
        )

    async def _produce(self, spec: RunSpec, queue: asyncio.Queue[Any]) -> None:
        """Pump the graph's chunks into ``queue`` within the wall-time budget."""
        if spec.durable:
            source = self._durable.chunks(spec, queue.put_nowait)
        else:
            source = self._graph_chunks(
                spec.question, spec.thread_id, queue.put_nowait, spec.instructions
            )
        try:
            async with (
                aclosing(source) as chunks,
                asyncio.timeout(self.budgets.wall_time_s),
            ):
                async for chunk in chunks:
                    await queue.put(chunk)
        except TimeoutError:
            await queue.put(_TIMED_OUT)
        except Exception as exc:  # handed to the consumer, which re-raises it
            await queue.put(exc)
        await queue.put(_DONE)

    def _result(self, state: ReactState, thread_id: str, reasoning: str) -> RunResult:
        outcome: Outcome = state.get("outcome") or "wall_time"
        answer_text = state.get("answer")
        if answer_text is not None:  # a no-op for backend text: it passed this rule already
            answer_text = neutralise_markers(answer_text)
        answer: Any = answer_text
        if self.answer_format is not None and answer_text is not None:
            try:
                answer = self.answer_format.parse(answer_text)
            except InvalidAnswer:
                answer = None
        return RunResult(
            answer=answer,
            answer_text=answer_text,
            thread_id=thread_id,
            outcome=outcome,
            tool_calls=list(state.get("tool_records", [])),
            usage=state.get("usage", Usage()),
            steps=state.get("steps", 0),
            thinking_skipped=state.get("thinking_skipped", False),
            model=self.backend.model,
            reasoning=reasoning,
        )


def _mcp_toolset(servers: Iterable[Any]) -> Any:
    servers = list(servers)
    if not servers:
        return None
    from ponder.tools.mcp import McpToolset

    return McpToolset(servers)


async def save_turn(
    memory: MemoryStore, question: str, result: RunResult, started_at: datetime
) -> None:
    """Store one finished turn: the question, the final answer and a tool summary.

    Nothing is cut: reasoning markers that a legitimate text may contain (a
    literal ``</think>`` in an answer, a tool named ``<think>``, an argument
    keyed ``reasoning_content``) are made inert by
    :func:`~ponder.backends.markers.neutralise_markers`, the rule the answer
    already passed before it was shown, so the stored answer equals the
    returned one and the store's reasoning guard never throws a turn away.
    """
    summaries = [
        ToolCallSummary(
            name=neutralise_markers(record.name),
            arguments=_preview(record.arguments),
            ok=record.ok,
            output_preview=_preview(record.output),
        )
        for record in result.tool_calls
    ]
    usage = result.usage
    await memory.add_turn(
        result.thread_id,
        question=neutralise_markers(question),
        answer=neutralise_markers(result.answer_text or ""),
        tool_calls=summaries,
        model=result.model,
        usage={
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "reasoning_tokens": usage.reasoning_tokens or 0,
            "cached_tokens": usage.cached_tokens or 0,
        },
        started_at=started_at,
        finished_at=datetime.now(UTC),
        run_id=result.run_id,
    )


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return neutralise_markers(text[:_PREVIEW_CHARS], json_keys=True)
