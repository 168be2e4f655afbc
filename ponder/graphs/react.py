"""The reason–act loop as a LangGraph ``StateGraph``.

``model`` streams one completion (reasoning and answer deltas go out through
LangGraph's ``custom`` stream, never into state), then either answers or asks
for tools; ``tools`` runs the calls concurrently and appends their results.

Reasoning is kept out of checkpointed state by construction: the assistant
messages in state carry none. Where a provider demands reasoning back inside
the current turn's tool loop (DeepSeek V4), it is held in
:class:`ReactContext` — a per-run object LangGraph never persists — and
re-attached, exactly as received, to the request of the next step.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from langgraph.config import get_stream_writer
from langgraph.func import task
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer, interrupt
from pydantic import BaseModel, ConfigDict

from ponder.backends.protocol import ChatBackend
from ponder.backends.types import (
    AssistantMessage,
    ChatRequest,
    Completed,
    Completion,
    ContentDelta,
    Message,
    ReasoningDelta,
    RetryNotice,
    ToolCall,
    ToolChoice,
    ToolMessage,
    Usage,
    UserMessage,
)
from ponder.graphs.answer_format import AnswerFormat, InvalidAnswer
from ponder.graphs.approval import ApprovalPolicy, Edit, Reject, decision_from_json, pending_calls
from ponder.graphs.budgets import Budgets, Outcome
from ponder.graphs.events import (
    AnswerDelta,
    ReasoningEvent,
    RetryEvent,
    ToolCallEvent,
    ToolResultEvent,
    UsageEvent,
)
from ponder.graphs.resume_fold import fold_unreplayable
from ponder.telemetry import hooks as telemetry
from ponder.tools import ToolBox, ToolResult
from ponder.tools.call_context import run_tool_call, run_tool_calls

__all__ = [
    "ReactContext",
    "ReactState",
    "ToolRecord",
    "build_react_graph",
    "event_writer",
    "model_node",
    "route_after_model",
    "tool_node",
]

FINAL_ANSWER_NUDGE = (
    "The budget for tool use is spent. Do not call any more tools: give your best final "
    "answer now from what you already know, and say what remains uncertain."
)


class ToolRecord(BaseModel):
    """One tool call of a run, as the caller and the memory see it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: Any
    output: str
    ok: bool
    error_kind: str | None = None


class ReactState(TypedDict, total=False):
    """What the loop checkpoints. No field ever holds reasoning."""

    messages: Annotated[list[Message], operator.add]
    steps: int
    tool_calls_made: int
    usage: Usage
    json_retries: int
    outcome: Outcome | None
    answer: str | None
    thinking_skipped: bool
    tool_records: Annotated[list[ToolRecord], operator.add]


@dataclass
class ReactContext:
    """Per-run dependencies and run-local memory (never checkpointed)."""

    backend: ChatBackend
    toolbox: ToolBox
    budgets: Budgets = field(default_factory=Budgets)
    answer_format: AnswerFormat | None = None
    temperature: float | None = 0.6
    top_p: float | None = 0.95
    force_thinking: bool = False
    reasoning_effort: str | None = None
    strict_tools: bool = False
    approvals: Mapping[str, ApprovalPolicy] = field(default_factory=dict)
    """Per-tool approval policies; they override each tool's own ``approval``."""
    decided: frozenset[str] = frozenset()
    """Ids of calls a person decided on for this resume (honoured whatever the policies)."""
    durable_tools: bool = False
    """Run each tool call as a LangGraph task (set for checkpointed runs): a resumed
    run then never repeats a finished call. Off for graphs run inside another
    graph's node, whose tasks would belong to the outer run."""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """The run's id, as tools see it (:func:`~ponder.tools.current_tool_call`); durable
    runs set their run id here, so a resumed call keeps its idempotency key."""
    emit: Callable[[Any], None] | None = field(default=None, repr=False)
    """Where events go; ``None`` means LangGraph's ``custom`` stream.

    The :class:`~ponder.agents.Agent` passes its own queue here: the events
    then skip LangGraph's stream machinery (a thread-safe wake-up per delta).
    """
    started_at: float = field(default_factory=time.monotonic)
    _reasoning_by_call: dict[str, AssistantMessage] = field(default_factory=dict, repr=False)
    _seen_calls: set[str] = field(default_factory=set, repr=False)

    def remember_reasoning(self, completion: Completion) -> None:
        """Hold this step's reasoning for replay within this run only."""
        if completion.tool_calls:
            self._seen_calls.add(completion.tool_calls[0].id)
        if completion.tool_calls and (completion.reasoning or completion.reasoning_details):
            self._reasoning_by_call[completion.tool_calls[0].id] = completion.to_message()

    def with_reasoning(self, messages: list[Message]) -> list[Message]:
        """Messages with this run's reasoning re-attached where it was held.

        The backend's replay policy then decides what reaches the wire. Tool
        calls made before a pause or a crash (not seen by this context) have
        no reasoning any more; for providers that replay reasoning they are
        folded into plain text (:mod:`ponder.graphs.resume_fold`).
        """
        if self.backend.profile.replay != "never":
            messages = fold_unreplayable(messages, lambda m: m.tool_calls[0].id in self._seen_calls)
        out: list[Message] = []
        for message in messages:
            if isinstance(message, AssistantMessage) and message.tool_calls:
                held = self._reasoning_by_call.get(message.tool_calls[0].id)
                if held is not None:
                    message = message.model_copy(
                        update={
                            "reasoning": held.reasoning,
                            "reasoning_details": held.reasoning_details,
                        }
                    )
            out.append(message)
        return out


def event_writer(ctx: ReactContext) -> Callable[[Any], None]:
    """The function a node calls to send an event to the run's caller."""
    return ctx.emit if ctx.emit is not None else get_stream_writer()


def _budget_spent(state: ReactState, budgets: Budgets) -> Outcome | None:
    if state.get("steps", 0) >= budgets.max_steps:
        return "max_steps"
    if state.get("tool_calls_made", 0) >= budgets.max_tool_calls:
        return "max_tool_calls"
    return None


def _tool_choice_for_final(ctx: ReactContext) -> ToolChoice | None:
    return "none" if "none" in ctx.backend.profile.tool_choice_modes else None


async def model_node(state: ReactState, runtime: Runtime[ReactContext]) -> ReactState:
    """One model call: stream events out, put the message (minus reasoning) in state."""
    ctx = runtime.context
    writer = event_writer(ctx)
    step = state.get("steps", 0) + 1
    messages = list(state.get("messages", []))
    final_reason = _budget_spent(state, ctx.budgets) if ctx.toolbox.names else None
    tools = ctx.toolbox.specs(strict=ctx.strict_tools)
    tool_choice: ToolChoice | None = None
    if final_reason is not None:
        messages.append(UserMessage(content=FINAL_ANSWER_NUDGE))
        tool_choice = _tool_choice_for_final(ctx)
        if tool_choice is None:
            tools = []
    request = ChatRequest(
        messages=tuple(ctx.with_reasoning(messages)),
        tools=tuple(tools),
        tool_choice=tool_choice,
        response_format=ctx.answer_format.response_format() if ctx.answer_format else None,
        temperature=ctx.temperature,
        top_p=ctx.top_p,
        max_tokens=ctx.budgets.max_tokens_per_call,
        force_thinking=ctx.force_thinking,
        reasoning_effort=ctx.reasoning_effort,
    )
    async with telemetry.chat(request, step) as call:
        completion = await _stream_completion(ctx.backend, request, step, call.watch(writer))
        call.done(completion)
    usage = state.get("usage", Usage()) + (completion.usage or Usage())
    writer(UsageEvent(step=step, usage=completion.usage or Usage()))
    ctx.remember_reasoning(completion)

    tool_calls = completion.tool_calls if final_reason is None else ()
    message = AssistantMessage(content=completion.content or None, tool_calls=tool_calls)
    update: ReactState = {
        "messages": [message],
        "steps": step,
        "usage": usage,
        "thinking_skipped": completion.thinking_skipped,
    }
    over_tokens = (
        ctx.budgets.max_tokens is not None and usage.total_tokens >= ctx.budgets.max_tokens
    )
    if tool_calls:
        if over_tokens:
            update["outcome"] = "max_tokens"
            update["answer"] = completion.content or None
        return update
    if completion.finish_reason == "length":
        # A cut-off reply is never an answer (issue 12.4): say so, keep the text.
        update.update({"outcome": "truncated", "answer": completion.content or None})
        return update
    update.update(_judge_answer(ctx, state, completion.content, final_reason))
    if over_tokens and update.get("outcome") is None:
        update["outcome"] = "max_tokens"
    return update


async def _stream_completion(
    backend: ChatBackend, request: ChatRequest, step: int, writer: Any
) -> Completion:
    completion: Completion | None = None
    async for event in backend.stream(request):
        if isinstance(event, ReasoningDelta):
            writer(ReasoningEvent(step=step, text=event.text))
        elif isinstance(event, ContentDelta):
            writer(AnswerDelta(step=step, text=event.text))
        elif isinstance(event, RetryNotice):
            writer(
                RetryEvent(
                    step=step, attempt=event.attempt, delay_s=event.delay_s, reason=event.reason
                )
            )
        elif isinstance(event, Completed):
            completion = event.completion
    if completion is None:  # a backend that breaks the protocol, not a model mistake
        raise RuntimeError("the backend's stream ended without a Completed event")
    return completion


def _judge_answer(
    ctx: ReactContext, state: ReactState, content: str, final_reason: Outcome | None
) -> ReactState:
    """Accept the answer, or ask again with the validation error (JSON mode)."""
    if ctx.answer_format is None:
        return {"outcome": final_reason or "answered", "answer": content}
    try:
        ctx.answer_format.parse(content)
    except InvalidAnswer as exc:
        retries = state.get("json_retries", 0)
        if retries >= ctx.budgets.max_json_retries or final_reason is not None:
            return {"outcome": final_reason or "invalid_json", "answer": content or None}
        correction = UserMessage(
            content=f"Your answer was rejected: {exc}. Reply again with only the JSON object."
        )
        return {"messages": [correction], "json_retries": retries + 1}
    return {"outcome": final_reason or "answered", "answer": content}


async def tool_node(state: ReactState, runtime: Runtime[ReactContext]) -> ReactState:
    """Run the last message's tool calls concurrently; every call gets a result."""
    ctx = runtime.context
    writer = event_writer(ctx)
    step = state.get("steps", 0)
    last = state["messages"][-1]
    calls: tuple[ToolCall, ...] = last.tool_calls if isinstance(last, AssistantMessage) else ()
    allowed = max(0, ctx.budgets.max_tool_calls - state.get("tool_calls_made", 0))
    to_run, refused = calls[:allowed], calls[allowed:]
    to_run = _decided(ctx, state, to_run)
    for call in to_run:
        if call.name == REJECTED:
            continue
        arguments = call.parsed if call.parse_error is None else call.arguments
        writer(ToolCallEvent(step=step, id=call.id, name=call.name, arguments=arguments))
    # In a checkpointed run each call is a LangGraph task: its result is saved when
    # it completes, so a resumed run (after a pause or a crash) never runs it again.
    started = telemetry.tool_clock()
    if ctx.durable_tools:
        futures = [
            _run_call(ctx.toolbox, call.model_dump(mode="json"), ctx.run_id, step)
            for call in to_run
        ]
        results = [ToolResult(**(await future)) for future in futures]
    else:  # no checkpointer, so no pause: nothing was rejected
        results = await run_tool_calls(ctx.toolbox, to_run, run_id=ctx.run_id, step=step)
    telemetry.tools_ran(results, started, step)
    messages: list[Message] = []
    records: list[ToolRecord] = []
    for result in results:
        writer(
            ToolResultEvent(
                step=step,
                id=result.call_id,
                name=result.name,
                output=result.output,
                ok=result.ok,
                error_kind=result.error_kind,
            )
        )
        messages.append(result.to_message())
        records.append(
            ToolRecord(
                id=result.call_id,
                name=result.name,
                arguments=result.arguments,
                output=result.output,
                ok=result.ok,
                error_kind=result.error_kind,
            )
        )
    for call in refused:
        messages.append(
            ToolMessage(
                tool_call_id=call.id,
                name=call.name,
                content="Not run: the run's tool-call budget is spent.",
            )
        )
    return {
        "messages": messages,
        "tool_calls_made": state.get("tool_calls_made", 0) + len(to_run),
        "tool_records": records,
    }


def _decided(
    ctx: ReactContext, state: ReactState, calls: tuple[ToolCall, ...]
) -> tuple[ToolCall, ...]:
    """Calls after the approval gate: pauses (``interrupt``) while any call needs a decision.

    The node runs again from the top on resume, so nothing before this point
    may have side effects. Rejected calls become :data:`REJECTED` markers; edited
    calls carry the new arguments.
    """
    pending = pending_calls(ctx.toolbox, ctx.approvals, calls, state.get("messages", []))
    if not pending and not ctx.decided.intersection(call.id for call in calls):
        return calls
    answer = interrupt({"calls": [p.model_dump(mode="json") for p in pending]})
    decisions = {call_id: decision_from_json(raw) for call_id, raw in dict(answer).items()}
    out = []
    for call in calls:
        decision = decisions.get(call.id)
        if isinstance(decision, Edit):
            text = json.dumps(decision.arguments, ensure_ascii=False)
            call = ToolCall(id=call.id, name=call.name, arguments=text)
        elif isinstance(decision, Reject):
            call = ToolCall(
                id=call.id,
                name=REJECTED,
                arguments=json.dumps(
                    {"tool": call.name, "arguments": call.parsed, "message": decision.message}
                ),
            )
        out.append(call)
    return tuple(out)


REJECTED = "__rejected__"
"""Tool name of a call a person rejected: it never reaches the toolbox."""


@task
async def _run_call(
    toolbox: ToolBox, call_data: dict[str, Any], run_id: str, step: int
) -> dict[str, Any]:
    """Run one tool call (a LangGraph task, so its result is checkpointed on completion)."""
    call = ToolCall.model_validate(call_data)
    if call.name == REJECTED:
        info = call.parsed
        return dataclasses.asdict(
            ToolResult(
                call_id=call.id,
                name=info["tool"],
                arguments=info["arguments"],
                output=f"Not run: the user rejected this call. Their message: {info['message']}",
                ok=False,
                error_kind="rejected",
                duration_s=0.0,
                truncated_chars=0,
            )
        )
    return dataclasses.asdict(await run_tool_call(toolbox, call, run_id=run_id, step=step))


def route_after_model(state: ReactState) -> Literal["tools", "model", "__end__"]:
    """Tools when the model asked for them, the model again after a JSON correction."""
    if state.get("outcome") is not None:
        return "__end__"
    last = state["messages"][-1]
    if isinstance(last, AssistantMessage) and last.tool_calls:
        return "tools"
    return "model"


def build_react_graph(
    *, checkpointer: Checkpointer = None
) -> CompiledStateGraph[ReactState, ReactContext, ReactState, ReactState]:
    """The reason–act loop: ``model`` ⇄ ``tools`` until an answer or a budget."""
    graph = StateGraph(ReactState, context_schema=ReactContext)
    graph.add_node("model", model_node)
    graph.add_node("tools", tool_node)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", route_after_model, ["tools", "model", END])
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=checkpointer, name="ponder-react")
