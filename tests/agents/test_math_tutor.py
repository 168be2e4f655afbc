"""The math tutor over real HTTP to a fake model, with the real proof checker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ponder.agents.math_tutor import Hints, MathTutor, VerifiedSolution, WorkCheck
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore
from ponder.testing import FakeModelServer, Turn

CANARY = "CANARY-7f3e-reasoning"
EQUATION = "x**2 - 5*x + 6 = 0"


def backend_for(server: FakeModelServer) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(
        base_url=server.base_url, model="fake-r1", api_key="sk-test", profile="deepseek"
    )


def claims(values: list[str]) -> str:
    return json.dumps(
        {
            "final_values": values,
            "solution_set": {"equations": [EQUATION], "variables": ["x"], "solutions": values},
        }
    )


def solver(hints: Callable[[str], list[str]] | None = None) -> Callable[[dict[str, Any]], Turn]:
    """Answers 2, 4 first; after a refutation 2, 3. Extraction copies the answer."""

    def script(body: dict[str, Any]) -> Turn:
        system, last = body["messages"][0]["content"], body["messages"][-1]["content"]
        if system.startswith("You extract"):
            values = ["2", "4"] if "x = 4" in last else ["2", "3"]
            return Turn(reasoning=CANARY, content=claims(values))
        if system.startswith("You are a math tutor who gives graded hints"):
            assert hints is not None
            return Turn(reasoning=CANARY, content=json.dumps({"hints": hints(last)}))
        if "refuted" in last:
            return Turn(reasoning=CANARY, content="x = 2 or x = 3.")
        return Turn(reasoning=CANARY, content="x = 2 or x = 4.")

    return script


async def test_solve_revises_a_refuted_answer_until_proved() -> None:
    with FakeModelServer(solver(), shape="deepseek") as server:
        async with backend_for(server) as backend:
            result = await MathTutor(backend).arun(f"Solve {EQUATION}.")
    solution = result.answer
    assert isinstance(solution, VerifiedSolution)
    assert result.ok and result.answer_text == "x = 2 or x = 3."
    assert solution.revisions == 1 and solution.verified
    assert solution.final_values == ["2", "3"]
    revise = (server.requests[2].body or {})["messages"][-1]["content"]
    assert "x = 4 is not a solution" in revise and "Counterexample: x = 4" in revise
    assert [r.name for r in result.tool_calls] == ["check_proof", "check_proof"]
    assert "REFUTED" in result.tool_calls[0].output and "PROVED" in result.tool_calls[1].output
    dumped = json.dumps(result.to_json_dict(), default=str)
    assert CANARY not in dumped and "REFUTED" in dumped


async def test_no_rounds_left_reports_the_refuted_claim() -> None:
    with FakeModelServer(solver(), shape="deepseek") as server:
        async with backend_for(server) as backend:
            result = await MathTutor(backend, max_rounds=0).arun(f"Solve {EQUATION}.")
    solution = result.answer
    assert isinstance(solution, VerifiedSolution)
    assert [c.status for c in solution.checks] == ["refuted"]
    assert solution.checks[0].counterexample == {"x": "4"}
    assert not solution.verified and len(server.requests) == 2


async def test_hints_that_keep_leaking_are_masked_and_only_hints_are_stored(
    tmp_path: Path,
) -> None:
    def leaky(_: str) -> list[str]:
        return ["Factor it.", "One root is x = 3.", "x = 2 or x = 3."]

    memory = MemoryStore.from_url(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        with FakeModelServer(solver(leaky), shape="deepseek") as server:
            async with backend_for(server) as backend:
                tutor = MathTutor(backend, mode="hints", memory=memory)
                events = [e async for e in tutor.astream(f"Solve {EQUATION}.", thread_id="t1")]
        result = events[-1].result  # type: ignore[union-attr]
        hints = result.answer
        assert isinstance(hints, Hints)
        assert hints.rewrites == 1 and hints.masked
        assert hints.levels == ["Factor it.", "One root is x = [withheld].", "x = 2 or x = 3."]
        streamed = [type(e).__name__ for e in events]
        assert "AnswerDelta" not in streamed and "ReasoningEvent" not in streamed
        turns = await memory.turns("t1")
        assert len(turns) == 1 and turns[0].answer.startswith("Hint 1: Factor it.")
        assert "x = 2 or x = 4" not in turns[0].answer
    finally:
        await memory.aclose()


async def test_check_flags_the_first_wrong_step_and_explains_it() -> None:
    script = [Turn(reasoning=CANARY, content="You added 3 instead of subtracting it.")]
    work = "Solve 2x + 3 = 7.\n1. 2x + 3 = 7\n2. 2x = 10\n3. x = 5\n"
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server) as backend:
            result = await MathTutor(backend, mode="check").arun(work)
    check = result.answer
    assert isinstance(check, WorkCheck)
    assert [s.status for s in check.steps] == ["given", "refuted", "proved"]
    assert check.first_wrong_step == 2 and check.steps[1].counterexample == {"x": "2"}
    assert check.explanation == "You added 3 instead of subtracting it."
    prompt = (server.requests[0].body or {})["messages"][-1]["content"]
    assert "First wrong step: step 2." in prompt and "Counterexample: x = 2" in prompt
    assert "Problem:\nSolve 2x + 3 = 7." in prompt


async def test_check_of_correct_work_needs_no_model() -> None:
    with FakeModelServer([], shape="deepseek") as server:
        async with backend_for(server) as backend:
            tutor = MathTutor(backend, mode="check")
            result = await tutor.arun('{"steps": ["(x+1)**2", "x**2 + 2*x + 1"]}')
            with pytest.raises(ValueError, match="fewer than two steps"):
                await tutor.arun("Just 2x = 4")
    assert result.answer_text == "Every step follows from the one before it."
    assert server.requests == []


async def test_bad_options_are_refused() -> None:
    with FakeModelServer([], shape="deepseek") as server:
        async with backend_for(server) as backend:
            with pytest.raises(ValueError, match="unknown mode"):
                MathTutor(backend, mode="teach")  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="only supported in 'solve'"):
                MathTutor(backend, mode="hints", response_schema={"type": "object"})
