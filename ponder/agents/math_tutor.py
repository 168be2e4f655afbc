"""The math tutor: solve with verification, graded hints, and "check my work".

Modes (each run returns a :class:`~ponder.agents.RunResult` whose ``answer``
is a typed object; ``answer_text`` is its readable rendering):

- ``solve``: the solve → verify → revise graph; ``answer`` is a
  :class:`VerifiedSolution` (the model's answer plus a verdict per claim).
- ``hints``: solves and verifies first (streaming only the tool calls and
  verdicts, never the solution), then writes graded hints; ``answer`` is a
  :class:`Hints`. No hint but the last contains a verified final value: a
  leaking set is asked for once more, then masked.
- ``check``: the question is a student's step-by-step work. Each step is
  checked against the previous one by ``check_proof`` (deterministic: no
  model decides a verdict); the model only explains the first wrong step,
  given the counterexample. ``answer`` is a :class:`WorkCheck`.

Memory stores each completed turn's final text only (``answer_text``).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from ponder.agents._work import parse_work
from ponder.agents.agent import Agent, AgentEvent, StreamingAgent, SupportsAclose, save_turn
from ponder.agents.builtin_tools import BuiltinTools, math_tutor_tools
from ponder.agents.prompts import MATH_SYSTEM_PROMPT
from ponder.agents.result import FinalEvent, RunResult
from ponder.backends.protocol import ChatBackend
from ponder.backends.types import Usage
from ponder.graphs.budgets import Budgets
from ponder.graphs.events import ErrorEvent, RetryEvent, ToolCallEvent, ToolResultEvent, UsageEvent
from ponder.graphs.react import ReactState, ToolRecord
from ponder.graphs.verify import ClaimCheck, VerifyState, build_verify_graph
from ponder.memory import MemoryStore
from ponder.tools.code.choice import RunnerPlan
from ponder.tools.proof import DerivationClaim, check_proof, check_proof_tool

__all__ = [
    "MATH_SYSTEM_PROMPT",
    "Hints",
    "MathTutor",
    "StepCheck",
    "TutorMode",
    "VerifiedSolution",
    "WorkCheck",
    "build_math_tutor_agent",
]

TutorMode = Literal["solve", "hints", "check"]
_MODES: tuple[TutorMode, ...] = ("solve", "hints", "check")

_HINT_PROMPT = (
    "You are a math tutor who gives graded hints instead of solutions. Each hint goes one "
    "step further than the last. Only the last hint may state the final answer; earlier "
    "hints must not contain it."
)
_EXPLAIN_PROMPT = (
    "You are a patient math tutor. A symbolic checker has found the first wrong step of a "
    "student's work and a counterexample. Explain in a few sentences what went wrong in that "
    "step and how to fix it. Do not redo the whole problem."
)
_PASS_THROUGH = (ToolCallEvent, ToolResultEvent, UsageEvent, RetryEvent, ErrorEvent)
_MASK = "[withheld]"


class VerifiedSolution(BaseModel):
    """``solve`` mode's answer: the model's answer and what the checker said of it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    answer: Any
    final_values: list[str]
    checks: list[ClaimCheck]
    revisions: int

    @property
    def verified(self) -> bool:
        """True when there were claims and every one was proved."""
        return bool(self.checks) and all(c.status == "proved" for c in self.checks)


class _HintDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hints: list[str] = Field(description="The hints, from the gentlest to the full answer.")


class Hints(BaseModel):
    """``hints`` mode's answer: hint levels 1..n (only level n may give the answer)."""

    model_config = ConfigDict(frozen=True)

    levels: list[str]
    final_values: list[str]
    checks: list[ClaimCheck]
    rewrites: int
    """How many times the hints were asked for again because one leaked the answer."""
    masked: bool
    """True when a value still leaked after the rewrite and was replaced by a mask."""


class StepCheck(BaseModel):
    """One step of the student's work, checked against the step before it."""

    model_config = ConfigDict(frozen=True)

    step: int
    text: str
    status: Literal["given", "proved", "refuted", "unknown"]
    explanation: str = ""
    counterexample: dict[str, str] | None = None


class WorkCheck(BaseModel):
    """``check`` mode's answer: per-step verdicts and the first wrong step explained."""

    model_config = ConfigDict(frozen=True)

    steps: list[StepCheck]
    first_wrong_step: int | None
    explanation: str | None


class _VerifyingAgent(Agent):
    """An :class:`Agent` on the solve → verify → revise graph."""

    def __init__(
        self,
        backend: ChatBackend,
        tools: Iterable[Any],
        *,
        max_rounds: int,
        check_timeout_s: float,
        **options: Any,
    ) -> None:
        super().__init__(backend, tools, **options)
        graph = build_verify_graph(
            max_rounds=max_rounds,
            check_timeout_s=check_timeout_s,
            checkpointer=options.get("checkpointer"),
        )
        self._graph = cast(Any, graph)

    def _result(self, state: ReactState, thread_id: str, reasoning: str) -> RunResult:
        base = super()._result(state, thread_id, reasoning)
        verify = cast(VerifyState, state)
        solution = VerifiedSolution(
            answer=base.answer,
            final_values=list(verify.get("final_values", [])),
            checks=list(verify.get("checks", [])),
            revisions=verify.get("round", 0),
        )
        return base.model_copy(update={"answer": solution})


class MathTutor(StreamingAgent):
    """A math tutor with the :class:`Agent` interface (``arun``, ``run``, ``astream``).

    ``tools`` default to ``check_proof`` alone; pass more (e.g. ``run_python``)
    and list what the tutor should close in ``closing``. ``max_rounds`` bounds
    the revisions after a refuted claim, ``hint_levels`` the number of hints,
    ``check_timeout_s`` each proof check. Other keyword arguments go to
    :class:`Agent`. ``response_schema`` shapes the solution in ``solve`` mode
    only.
    """

    def __init__(
        self,
        backend: ChatBackend,
        *,
        mode: TutorMode = "solve",
        tools: Iterable[Any] | None = None,
        memory: MemoryStore | None = None,
        budgets: Budgets | None = None,
        response_schema: dict[str, Any] | type[BaseModel] | None = None,
        system_prompt: str | None = None,
        max_rounds: int = 2,
        hint_levels: int = 3,
        check_timeout_s: float = 10.0,
        closing: Iterable[SupportsAclose] = (),
        **agent_options: Any,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(_MODES)}")
        if response_schema is not None and mode != "solve":
            raise ValueError("response_schema is only supported in 'solve' mode")
        if hint_levels < 2:
            raise ValueError("hint_levels must be at least 2")
        self.mode: TutorMode = mode
        self.backend = backend
        self.memory = memory
        self.hint_levels = hint_levels
        self.check_timeout_s = check_timeout_s
        self._closing = list(closing)
        self._solver = _VerifyingAgent(
            backend,
            [check_proof_tool(timeout_s=check_timeout_s)] if tools is None else tools,
            max_rounds=max_rounds,
            check_timeout_s=check_timeout_s,
            memory=memory if mode == "solve" else None,
            budgets=budgets,
            response_schema=response_schema,
            system_prompt=MATH_SYSTEM_PROMPT if system_prompt is None else system_prompt,
            **agent_options,
        )
        self._hinter = Agent(
            backend, (), system_prompt=_HINT_PROMPT, budgets=budgets, response_schema=_HintDraft
        )
        self._explainer = Agent(backend, (), system_prompt=_EXPLAIN_PROMPT, budgets=budgets)

    async def aclose(self) -> None:
        """Close what the tutor owns (not the backend)."""
        await self._solver.aclose()
        while self._closing:
            await self._closing.pop().aclose()

    async def astream(
        self, question: str, *, thread_id: str | None = None, instructions: str | None = None
    ) -> AsyncIterator[AgentEvent]:
        """Stream typed events; the last one is a :class:`FinalEvent`.

        ``instructions`` reach the solver's system message in ``solve`` mode; the
        hint and check modes keep their own fixed prompts.
        """
        if not question.strip():
            raise ValueError("the question is empty")
        if self.mode == "solve":
            events = self._solver.astream(question, thread_id=thread_id, instructions=instructions)
            async for event in events:
                yield event
            return
        thread_id = thread_id or uuid.uuid4().hex
        started_at = datetime.now(UTC)
        stream = self._hints if self.mode == "hints" else self._check
        result: RunResult | None = None
        async for event in stream(question, thread_id):
            if isinstance(event, FinalEvent):
                result = event.result
            else:
                yield event
        assert result is not None
        if result.ok and self.memory is not None:
            await save_turn(self.memory, question, result, started_at)
        yield FinalEvent(result=result)

    # ----------------------------------------------------------------- hints

    async def _hints(self, question: str, thread_id: str) -> AsyncIterator[AgentEvent]:
        solved: RunResult | None = None
        async for event in self._solver.astream(question, thread_id=thread_id):
            if isinstance(event, FinalEvent):
                solved = event.result
            elif isinstance(event, _PASS_THROUGH):  # never the solution's text or reasoning
                yield event
        assert solved is not None
        solution = solved.answer
        assert isinstance(solution, VerifiedSolution)
        if not solved.ok:
            yield FinalEvent(result=solved.model_copy(update={"answer": None, "answer_text": None}))
            return
        prompt = (
            f"Problem:\n{question}\n\nVerified solution (do not show it):\n{solved.answer_text}\n\n"
            f"Write exactly {self.hint_levels} hints."
        )
        runs = [await self._hinter.arun(prompt)]
        levels = _levels(runs[-1])
        leaks = _leaking(levels, solution.final_values, question)
        rewrites = 0
        if runs[-1].ok and leaks:
            rewrites = 1
            runs.append(
                await self._hinter.arun(
                    f"{prompt}\n\nYour hints {', '.join(str(i) for i in leaks)} revealed the "
                    "final answer. Rewrite them so that only the last hint states it."
                )
            )
            levels = _levels(runs[-1])
        masked = False
        if levels and _leaking(levels, solution.final_values, question):
            levels = _mask(levels, solution.final_values, question)
            masked = True
        hints = Hints(
            levels=levels,
            final_values=solution.final_values,
            checks=solution.checks,
            rewrites=rewrites,
            masked=masked,
        )
        text = "\n".join(f"Hint {i}: {hint}" for i, hint in enumerate(levels, 1))
        yield FinalEvent(result=_combine(solved, runs, answer=hints, text=text if levels else None))

    # ----------------------------------------------------------------- check

    async def _check(self, question: str, thread_id: str) -> AsyncIterator[AgentEvent]:
        work = parse_work(question)
        pairs = [
            DerivationClaim(kind="derivation", steps=[work.steps[i - 1], work.steps[i]])
            for i in range(1, len(work.steps))
        ]
        for i, claim in enumerate(pairs, 2):
            arguments = {"claim": claim.model_dump()}
            yield ToolCallEvent(step=0, id=f"step-{i}", name="check_proof", arguments=arguments)
        verdicts = await asyncio.gather(
            *(check_proof(claim, timeout_s=self.check_timeout_s) for claim in pairs)
        )
        steps = [StepCheck(step=1, text=work.steps[0], status="given")]
        records: list[ToolRecord] = []
        for i, (claim, verdict) in enumerate(zip(pairs, verdicts, strict=True), 2):
            output = verdict.to_text()
            yield ToolResultEvent(
                step=0, id=f"step-{i}", name="check_proof", output=output, ok=True
            )
            records.append(
                ToolRecord(
                    id=f"step-{i}",
                    name="check_proof",
                    arguments={"claim": claim.model_dump()},
                    output=output,
                    ok=True,
                )
            )
            steps.append(
                StepCheck(
                    step=i,
                    text=work.steps[i - 1],
                    status=verdict.status,
                    explanation=_renumber(verdict.explanation, i),
                    counterexample=verdict.counterexample,
                )
            )
        wrong = next((s for s in steps if s.status == "refuted"), None)
        base = RunResult(
            answer=None,
            answer_text=None,
            thread_id=thread_id,
            outcome="answered",
            tool_calls=records,
            usage=Usage(),
            steps=0,
            thinking_skipped=False,
            model=self.backend.model,
        )
        if wrong is None:
            unknown = [s.step for s in steps if s.status == "unknown"]
            text = (
                "Every step follows from the one before it."
                if not unknown
                else "No step is wrong, but these steps could not be checked: "
                + ", ".join(map(str, unknown))
                + "."
            )
            check = WorkCheck(steps=steps, first_wrong_step=None, explanation=None)
            yield FinalEvent(result=base.model_copy(update={"answer": check, "answer_text": text}))
            return
        explained: RunResult | None = None
        async for event in self._explainer.astream(_explain_prompt(work.context, steps, wrong)):
            if isinstance(event, FinalEvent):
                explained = event.result
            else:
                yield event
        assert explained is not None
        explanation = explained.answer_text if explained.ok else None
        check = WorkCheck(steps=steps, first_wrong_step=wrong.step, explanation=explanation)
        text = f"Step {wrong.step} ({wrong.text}) is wrong. {explanation or wrong.explanation}"
        yield FinalEvent(result=_combine(base, [explained], answer=check, text=text))


def _renumber(explanation: str, step: int) -> str:
    """A pair check's "Step 2 … step 1" wording, numbered as in the student's work."""
    return explanation.replace("Step 2 (", f"Step {step} (", 1).replace(
        "from step 1 (", f"from step {step - 1} (", 1
    )


def _explain_prompt(context: list[str], steps: list[StepCheck], wrong: StepCheck) -> str:
    work = "\n".join(f"Step {s.step}: {s.text}" for s in steps)
    point = ", ".join(f"{k} = {v}" for k, v in (wrong.counterexample or {}).items())
    problem = "\n".join(context)
    return (
        (f"Problem:\n{problem}\n\n" if problem else "")
        + f"Student's work:\n{work}\n\nFirst wrong step: step {wrong.step}.\n"
        + f"Checker: {wrong.explanation}\n"
        + (f"Counterexample: {point}\n" if point else "")
    )


def _levels(result: RunResult) -> list[str]:
    draft = result.answer
    return list(draft.hints) if isinstance(draft, _HintDraft) else []


def _value_pattern(value: str) -> re.Pattern[str]:
    """``value`` standing on its own (``x = 2``), not inside a term (``x**2``, ``2*x``)."""
    body = re.escape(value.strip()).replace(r"\ ", r"\s*")
    return re.compile(rf"(?<![\w.*/^]){body}(?![\w*/^(]|\.\d)")


def _revealing(values: list[str], question: str) -> list[re.Pattern[str]]:
    """Patterns of final values that the question does not already show."""
    patterns = [_value_pattern(v) for v in values if v.strip()]
    return [p for p in patterns if not p.search(question)]


def _leaking(levels: list[str], values: list[str], question: str) -> list[int]:
    """1-based levels, before the last, that contain a final value."""
    patterns = _revealing(values, question)
    return [i for i, hint in enumerate(levels[:-1], 1) if any(p.search(hint) for p in patterns)]


def _mask(levels: list[str], values: list[str], question: str) -> list[str]:
    patterns = _revealing(values, question)
    masked = []
    for hint in levels[:-1]:
        for pattern in patterns:
            hint = pattern.sub(_MASK, hint)
        masked.append(hint)
    return [*masked, levels[-1]]


def _combine(base: RunResult, runs: list[RunResult], *, answer: Any, text: str | None) -> RunResult:
    """``base`` with the follow-up runs' usage and steps added, and the mode's answer."""
    usage = base.usage
    for run in runs:
        usage = usage + run.usage
    last = runs[-1]
    return base.model_copy(
        update={
            "answer": answer,
            "answer_text": text,
            "outcome": last.outcome if text is not None or not last.ok else "invalid_json",
            "usage": usage,
            "steps": base.steps + sum(run.steps for run in runs),
            "reasoning": "",
        }
    )


def build_math_tutor_agent(
    *,
    backend: ChatBackend,
    memory: MemoryStore | None = None,
    budgets: Budgets | None = None,
    response_schema: dict[str, Any] | type[BaseModel] | None = None,
    mode: TutorMode = "solve",
    code_runner: RunnerPlan | None = None,
    tools: BuiltinTools | None = None,
) -> MathTutor:
    """The math tutor with ``check_proof`` and a ``run_python`` session (closed with it).

    ``code_runner`` (default: the best one here, see
    :func:`~ponder.tools.code.choice.plan_runner`) runs ``run_python``; where
    none can, the tutor has ``check_proof`` alone. ``tools`` are those tools
    when the caller built them already
    (:func:`~ponder.agents.builtin_tools.math_tutor_tools`); the tutor owns them.
    """
    tools = tools or math_tutor_tools(code_runner)
    return MathTutor(
        backend,
        mode=mode,
        tools=tools.tools,
        memory=memory,
        budgets=budgets,
        response_schema=response_schema,
        closing=[] if tools.runner is None else [tools.runner],
    )
