"""Compose your own LangGraph graph from ponder's nodes and tools.

Shows a planner → (model ⇄ tools) → critic graph: a planner node writes a short
plan, ponder's own ``model_node``/``tool_node`` run the reason–act loop with the
``check_proof`` tool, and a critic node reviews the answer in JSON mode (a
pydantic model) and sends it back once with its feedback when it finds a flaw.
Your state extends ``ReactState``; ``ReactContext`` carries the backend, tools
and budgets; ponder's nodes stream typed events through LangGraph's ``custom``
channel, and reasoning never enters the graph's state.

Run against a real server (any OpenAI-compatible R1-class endpoint)::

    PONDER_BASE_URL=https://api.deepseek.com PONDER_MODEL=deepseek-v4-pro \\
    PONDER_API_KEY=sk-... python examples/custom_graph.py ["your question"]

or offline against a scripted fake model: ``python examples/custom_graph.py --fake``
(or ``PONDER_EXAMPLE_FAKE=1``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Literal

from _fake import backend
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel

from ponder.backends.types import ChatRequest, Message, SystemMessage, UserMessage
from ponder.graphs import (
    AnswerFormat,
    InvalidAnswer,
    ReactContext,
    ReactState,
    ToolCallEvent,
    ToolResultEvent,
    model_node,
    route_after_model,
    tool_node,
)
from ponder.testing import ToolCallSpec, Turn
from ponder.tools import ToolBox
from ponder.tools.proof import check_proof_tool

QUESTION = "Is (a+b)**2 equal to a**2 + b**2 for all real a and b?"
PLANNER = "You are a planner. Write a numbered plan of at most three short steps."
SOLVER = "Follow the plan. Check algebra with the check_proof tool before you answer."
CRITIC = "You are a strict reviewer. Judge whether the answer is correct and fully justified."
MAX_REVIEWS = 2


class Review(BaseModel):
    """The critic's verdict (JSON mode)."""

    approved: bool
    feedback: str


class State(ReactState, total=False):
    """ponder's loop state plus this graph's own fields."""

    question: str
    plan: str
    reviews: int
    review: Review


async def planner(state: State, runtime: Runtime[ReactContext]) -> State:
    """Ask for a plan, then seed the reason–act loop with it."""
    request = ChatRequest(
        messages=(SystemMessage(content=PLANNER), UserMessage(content=state["question"]))
    )
    plan = (await runtime.context.backend.complete(request)).content.strip()
    opening: list[Message] = [
        SystemMessage(content=SOLVER),
        UserMessage(content=f"{state['question']}\n\nPlan:\n{plan}"),
    ]
    return {"plan": plan, "messages": opening, "steps": 0, "tool_calls_made": 0, "reviews": 0}


async def critic(state: State, runtime: Runtime[ReactContext]) -> State:
    """Review the answer; a rejection goes back to the model with the feedback."""
    verdict = AnswerFormat(Review)
    request = ChatRequest(
        messages=(
            SystemMessage(content=f"{CRITIC}\n\n{verdict.instructions()}"),
            UserMessage(content=f"Question: {state['question']}\n\nAnswer: {state['answer']}"),
        ),
        response_format=verdict.response_format(),
    )
    try:
        review: Review = verdict.parse((await runtime.context.backend.complete(request)).content)
    except InvalidAnswer as exc:
        review = Review(approved=True, feedback=f"(the review was unreadable: {exc})")
    update: State = {"review": review, "reviews": state.get("reviews", 0) + 1}
    if not review.approved and update["reviews"] < MAX_REVIEWS:
        retry = f"A reviewer rejected your answer: {review.feedback} Revise it."
        update.update({"messages": [UserMessage(content=retry)], "outcome": None, "answer": None})
    return update


def after_model(state: State) -> Literal["tools", "model", "critic", "__end__"]:
    """ponder's routing, with the critic in front of every accepted answer."""
    route = route_after_model(state)
    if route == "__end__" and state.get("outcome") == "answered":
        return "critic"
    return route


def after_critic(state: State) -> Literal["model", "__end__"]:
    return "model" if state.get("outcome") is None else "__end__"


def build_graph() -> Any:
    graph = StateGraph(State, context_schema=ReactContext)
    graph.add_node("planner", planner)
    graph.add_node("model", model_node)
    graph.add_node("tools", tool_node)
    graph.add_node("critic", critic)
    graph.add_edge(START, "planner")
    graph.add_edge("planner", "model")
    graph.add_conditional_edges("model", after_model, ["tools", "model", "critic", END])
    graph.add_edge("tools", "model")
    graph.add_conditional_edges("critic", after_critic, ["model", END])
    return graph.compile(name="plan-solve-critique")


def fake_model(body: dict[str, Any]) -> Turn:
    """The scripted model: a plan, a checked identity, a wrong draft, a review, a fix."""
    messages = body["messages"]
    system = messages[0]["content"]
    last = messages[-1]
    if system.startswith(PLANNER):
        plan = "1. Expand (a+b)**2.\n2. Check the identity with check_proof.\n3. Answer."
        return Turn(reasoning="Short plan.", content=plan)
    if system.startswith(CRITIC):
        if "No." in last["content"]:
            review = {"approved": True, "feedback": "Correct, with a counterexample."}
        else:
            review = {"approved": False, "feedback": "The checker refuted the identity."}
        return Turn(reasoning="Compare with the tool result.", content=json.dumps(review))
    if last["role"] == "user" and last["content"].startswith("A reviewer rejected"):
        answer = (
            "No. (a+b)**2 = a**2 + 2*a*b + b**2, so they differ whenever a*b != 0: "
            "a = b = 1 gives 4, not 2."
        )
        return Turn(reasoning="Right, the cross term.", content=answer)
    if last["role"] == "tool":
        return Turn(reasoning="Sloppy: I skim the verdict.", content="Yes, they are equal.")
    claim = {"kind": "identity", "lhs": "(a+b)**2", "rhs": "a**2 + b**2"}
    return Turn(
        reasoning="Let the checker decide.",
        tool_calls=[ToolCallSpec("check_proof", {"claim": claim})],
    )


async def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--fake"]
    question = args[0] if args else QUESTION
    print(f"Question: {question}")
    graph = build_graph()
    async with backend(fake_model) as model:
        context = ReactContext(backend=model, toolbox=ToolBox([check_proof_tool()]))
        final: dict[str, Any] = {}
        stream = graph.astream(
            {"question": question}, context=context, stream_mode=["custom", "updates"]
        )
        async for mode, chunk in stream:
            if mode == "custom":
                show_event(chunk)
                continue
            for node, update in chunk.items():
                show_update(node, update or {})
                final.update(update or {})
    print(f"Outcome: {final.get('outcome')}, reviews: {final.get('reviews')}")
    print(f"Final answer: {final.get('answer')}")


def show_event(event: Any) -> None:
    if isinstance(event, ToolCallEvent):
        print(f"[tool call] {event.name} {json.dumps(event.arguments)}")
    elif isinstance(event, ToolResultEvent):
        print(f"[tool result] {event.output}")


def show_update(node: str, update: dict[str, Any]) -> None:
    if node == "planner":
        print(f"[planner]\n{update['plan']}")
    elif node == "model" and update.get("answer"):
        print(f"[model] draft answer: {update['answer']}")
    elif node == "critic":
        review: Review = update["review"]
        verdict = "approved" if review.approved else "rejected"
        print(f"[critic] {verdict}: {review.feedback}")


if __name__ == "__main__":
    asyncio.run(main())
