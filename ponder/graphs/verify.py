"""Solve → verify → revise, as a LangGraph ``StateGraph``.

The solve phase is the reason–act loop itself: the same ``model`` and
``tools`` nodes as :func:`~ponder.graphs.react.build_react_graph`. When the
model answers, ``extract`` asks it (one JSON-mode call) for the checkable
claims of that answer: the final value(s), the solution set, the derivation
steps. ``check`` runs :func:`~ponder.tools.proof.check_proof` on each claim.
When one is refuted and rounds remain, ``revise`` hands the verdicts and
counterexamples back to the model and the loop solves again.

Reasoning never enters state: the extraction call's reasoning is dropped,
and the loop nodes keep theirs out by construction.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.backends.types import ChatRequest, SystemMessage, Usage, UserMessage
from ponder.graphs.answer_format import AnswerFormat, InvalidAnswer
from ponder.graphs.events import ToolCallEvent, ToolResultEvent, UsageEvent
from ponder.graphs.react import (
    ReactContext,
    ReactState,
    ToolRecord,
    event_writer,
    model_node,
    route_after_model,
    tool_node,
)
from ponder.tools.proof import (
    DerivationClaim,
    IdentityClaim,
    SolutionsClaim,
    Verdict,
    check_proof,
)

__all__ = [
    "ClaimCheck",
    "ExtractedClaims",
    "SolutionSet",
    "ValueClaim",
    "VerifyState",
    "build_verify_graph",
    "claims_from",
]

_EXTRACT_PROMPT = (
    "You extract the checkable mathematical claims from a solution so that a symbolic "
    "checker can verify them. Copy the solution's own claims faithfully, even if you think "
    "they are wrong; do not solve the problem again. Write math in Python syntax "
    "(2*x, x**2, sqrt(2), pi). Leave a field empty when the solution makes no such claim."
)
_REVISE_PROMPT = (
    "A symbolic checker tested the claims of your answer and refuted some of them:\n\n"
    "{verdicts}\n\nFind the mistake, fix it (use the tools to re-check), and give the "
    "corrected, complete final answer."
)

_LOOP_PREFIXES = (_REVISE_PROMPT[:40], "Your answer was rejected")


class ValueClaim(BaseModel):
    """The answer says ``quantity`` equals ``value``."""

    model_config = ConfigDict(extra="forbid")

    quantity: str = Field(
        description="The expression the problem asks for, e.g. 'integrate(x**2, (x, 0, 1))'."
    )
    value: str = Field(description="The value the solution gives for it, e.g. '1/3'.")


class SolutionSet(BaseModel):
    """The answer says these are all the solutions of the equation(s)."""

    model_config = ConfigDict(extra="forbid")

    equations: list[str] = Field(
        description="The equation(s) being solved, with '=', e.g. ['x**2 - 5*x + 6 = 0']."
    )
    variables: list[str] = Field(description="The unknowns, e.g. ['x'].")
    solutions: list[str | dict[str, str]] = Field(
        description=(
            "Every solution the answer gives: values for one unknown (['2', '3']), or "
            "{variable: value} objects for several. Empty if it says there is none."
        )
    )


class ExtractedClaims(BaseModel):
    """The checkable claims of one answer (the JSON-mode schema of ``extract``)."""

    model_config = ConfigDict(extra="forbid")

    final_values: list[str] = Field(
        description="The final value(s) exactly as the answer states them, e.g. ['2', '3']."
    )
    values: list[ValueClaim] = Field(
        default_factory=list, description="Computed quantities and the values the answer gives."
    )
    solution_set: SolutionSet | None = Field(
        default=None, description="The solution set, if the problem asks to solve equation(s)."
    )
    derivation: list[str] = Field(
        default_factory=list,
        description=(
            "The main chain of steps, in order: all expressions (each equal to the previous) "
            "or all equations (each with the same solutions as the previous). Empty if none."
        ),
    )


class ClaimCheck(BaseModel):
    """One checked claim and the checker's verdict."""

    model_config = ConfigDict(frozen=True)

    label: str
    claim: dict[str, Any]
    status: Literal["proved", "refuted", "unknown"]
    explanation: str
    counterexample: dict[str, str] | None = None
    failed_step: int | None = None

    @classmethod
    def from_verdict(cls, label: str, claim: dict[str, Any], verdict: Verdict) -> ClaimCheck:
        return cls(
            label=label,
            claim=claim,
            status=verdict.status,
            explanation=verdict.explanation,
            counterexample=verdict.counterexample,
            failed_step=verdict.failed_step,
        )

    def to_text(self) -> str:
        """The verdict as the model reads it back."""
        lines = [f"{self.label}: {self.status.upper()}. {self.explanation}"]
        if self.counterexample:
            point = ", ".join(f"{k} = {v}" for k, v in self.counterexample.items())
            lines.append(f"Counterexample: {point}")
        return "\n".join(lines)


class VerifyState(ReactState, total=False):
    """The loop's state plus the verification record (no field holds reasoning)."""

    round: int
    extracted: ExtractedClaims | None
    final_values: list[str]
    checks: list[ClaimCheck]
    check_history: Annotated[list[ClaimCheck], operator.add]


_Checkable = IdentityClaim | SolutionsClaim | DerivationClaim


def claims_from(extracted: ExtractedClaims) -> list[tuple[str, _Checkable | str]]:
    """Labelled proof-checker claims; a string in place of a claim says why it is invalid."""
    out: list[tuple[str, _Checkable | str]] = []
    candidates: list[tuple[str, dict[str, Any], type[_Checkable]]] = [
        (
            f"value of {v.quantity}",
            {"kind": "identity", "lhs": v.quantity, "rhs": v.value},
            IdentityClaim,
        )
        for v in extracted.values
    ]
    if extracted.solution_set is not None:
        sset = extracted.solution_set
        equations: str | list[str] = (
            sset.equations[0] if len(sset.equations) == 1 else list(sset.equations)
        )
        candidates.append(
            (
                "solution set",
                {
                    "kind": "solutions",
                    "equations": equations,
                    "variables": sset.variables or None,
                    "solutions": sset.solutions,
                },
                SolutionsClaim,
            )
        )
    if len(extracted.derivation) >= 2:
        candidates.append(
            ("derivation", {"kind": "derivation", "steps": extracted.derivation}, DerivationClaim)
        )
    for label, data, model in candidates:
        try:
            out.append((label, model.model_validate(data)))
        except ValidationError as exc:
            out.append((label, f"the extracted claim is malformed: {exc.errors()[0]['msg']}"))
    return out


def _after_model(state: VerifyState) -> Literal["tools", "model", "extract", "__end__"]:
    route = route_after_model(state)
    if route != "__end__":
        return route
    verifiable = state.get("outcome") in ("answered", "max_steps", "max_tool_calls")
    return "extract" if verifiable and state.get("answer") else "__end__"


async def _extract(state: VerifyState, ctx: ReactContext) -> tuple[ExtractedClaims | None, Usage]:
    """One JSON-mode call (plus corrections) for the answer's claims; reasoning dropped."""
    fmt = AnswerFormat(ExtractedClaims)
    problem = next((m.content for m in reversed(state.get("messages", [])) if _is_problem(m)), "")
    messages: list[Any] = [
        SystemMessage(content=f"{_EXTRACT_PROMPT}\n\n{fmt.instructions()}"),
        UserMessage(content=f"Problem:\n{problem}\n\nSolution:\n{state.get('answer') or ''}"),
    ]
    usage = Usage()
    for _ in range(ctx.budgets.max_json_retries + 1):
        completion = await ctx.backend.complete(
            ChatRequest(
                messages=tuple(messages),
                response_format=fmt.response_format(),
                temperature=ctx.temperature,
                top_p=ctx.top_p,
                max_tokens=ctx.budgets.max_tokens_per_call,
                reasoning_effort=ctx.reasoning_effort,
            )
        )
        usage = usage + (completion.usage or Usage())
        try:
            value = fmt.parse(completion.content)
        except InvalidAnswer as exc:
            messages.append(completion.to_message().model_copy(update={"reasoning": None}))
            messages.append(
                UserMessage(content=f"Rejected: {exc}. Reply with only the JSON object.")
            )
            continue
        assert isinstance(value, ExtractedClaims)
        return value, usage
    return None, usage


def build_verify_graph(
    *,
    max_rounds: int = 2,
    check_timeout_s: float = 10.0,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[VerifyState, ReactContext, VerifyState, VerifyState]:
    """Solve with the reason–act loop, check the answer's claims, revise when refuted.

    ``max_rounds`` bounds the revisions (0: check once, never revise);
    ``check_timeout_s`` bounds each proof check. The context is the loop's
    :class:`~ponder.graphs.react.ReactContext`.
    """
    if max_rounds < 0:
        raise ValueError("max_rounds cannot be negative")
    if check_timeout_s <= 0:
        raise ValueError("check_timeout_s must be positive")

    async def extract(state: VerifyState, runtime: Runtime[ReactContext]) -> VerifyState:
        writer = event_writer(runtime.context)
        extracted, usage = await _extract(state, runtime.context)
        writer(UsageEvent(step=state.get("steps", 0), usage=usage))
        total = state.get("usage", Usage()) + usage
        if extracted is None:
            return {"usage": total, "extracted": None, "final_values": []}
        return {"usage": total, "extracted": extracted, "final_values": extracted.final_values}

    async def check(state: VerifyState, runtime: Runtime[ReactContext]) -> VerifyState:
        extracted = state.get("extracted")
        if extracted is None:
            failed = ClaimCheck(
                label="answer",
                claim={},
                status="unknown",
                explanation="The answer's claims could not be extracted as valid JSON.",
            )
            return {"checks": [failed], "check_history": [failed]}
        checks = await _check_all(extracted, state, event_writer(runtime.context))
        return {
            "checks": checks,
            "check_history": checks,
            "tool_records": [_record(state, i, c) for i, c in enumerate(checks)],
        }

    async def _check_all(
        extracted: ExtractedClaims, state: VerifyState, writer: Any
    ) -> list[ClaimCheck]:
        labelled = claims_from(extracted)
        step = state.get("steps", 0)
        for i, (label, claim) in enumerate(labelled):
            arguments = {"claim": claim.model_dump()} if not isinstance(claim, str) else label
            writer(
                ToolCallEvent(
                    step=step, id=_call_id(state, i), name="check_proof", arguments=arguments
                )
            )
        verdicts = await asyncio.gather(
            *(_verdict(claim) for _, claim in labelled), return_exceptions=False
        )
        checks = [
            ClaimCheck.from_verdict(
                label, claim.model_dump() if not isinstance(claim, str) else {}, verdict
            )
            for (label, claim), verdict in zip(labelled, verdicts, strict=True)
        ]
        for i, check in enumerate(checks):
            writer(
                ToolResultEvent(
                    step=step,
                    id=_call_id(state, i),
                    name="check_proof",
                    output=check.to_text(),
                    ok=True,
                )
            )
        return checks

    async def _verdict(claim: _Checkable | str) -> Verdict:
        if isinstance(claim, str):
            return Verdict("unknown", "extraction", claim)
        return await check_proof(claim, timeout_s=check_timeout_s)

    def after_check(state: VerifyState) -> Literal["revise", "__end__"]:
        refuted = any(c.status == "refuted" for c in state.get("checks", []))
        return "revise" if refuted and state.get("round", 0) < max_rounds else "__end__"

    def revise(state: VerifyState) -> VerifyState:
        verdicts = "\n\n".join(
            c.to_text() for c in state.get("checks", []) if c.status == "refuted"
        )
        return {
            "messages": [UserMessage(content=_REVISE_PROMPT.format(verdicts=verdicts))],
            "round": state.get("round", 0) + 1,
            "outcome": None,
            "answer": None,
        }

    graph = StateGraph(VerifyState, context_schema=ReactContext)
    graph.add_node("model", model_node)
    graph.add_node("tools", tool_node)
    graph.add_node("extract", extract)
    graph.add_node("check", check)
    graph.add_node("revise", revise)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", _after_model, ["tools", "model", "extract", END])
    graph.add_edge("tools", "model")
    graph.add_edge("extract", "check")
    graph.add_conditional_edges("check", after_check, ["revise", END])
    graph.add_edge("revise", "model")
    return graph.compile(checkpointer=checkpointer, name="ponder-verify")


def _is_problem(message: Any) -> bool:
    """The user's problem: a user message the loop itself did not add."""
    return isinstance(message, UserMessage) and not message.content.startswith(_LOOP_PREFIXES)


def _call_id(state: VerifyState, index: int) -> str:
    return f"verify-{state.get('round', 0)}-{index}"


def _record(state: VerifyState, index: int, check: ClaimCheck) -> ToolRecord:
    return ToolRecord(
        id=_call_id(state, index),
        name="check_proof",
        arguments={"claim": check.claim} if check.claim else check.label,
        output=check.to_text(),
        ok=True,
    )
