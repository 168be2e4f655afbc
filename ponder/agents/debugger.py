"""The debugger agent: fix a failing command in a sandboxed copy, or explain a traceback.

``mode="fix"``: the run copies ``project`` into a fresh local sandbox,
reproduces ``command``'s failure, lets the model diagnose and propose a
patch, applies and re-tests it there, and answers with a
:class:`~ponder.graphs.debug.DebugReport` (``RunResult.answer``;
``answer_text`` is its readable form). The user's folder changes only with
``apply=True``, and only after the patch passed in the sandbox; with
``approvals={"apply_patch": ...}`` (``"always"`` or a predicate on
``{"files", "patch"}``) the run first pauses for a person's approve or
reject (``RunResult.outcome == "awaiting_approval"``, then
:meth:`~ponder.agents.Agent.aresume`). Runs are durable like the react
agent's: checkpointed (redacted) in the memory's database, resumable by run
id from another process.

``mode="explain"``: the question is a traceback (with any code or context);
the answer is a :class:`~ponder.graphs.debug.TracebackExplanation`. No
sandbox is involved.

Memory, when given, stores the question and the final answer text only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, cast

from langgraph.types import Checkpointer

from ponder.agents.agent import Agent, AgentEvent
from ponder.agents.durable import DurableRuns, RunSpec
from ponder.agents.result import RunResult
from ponder.backends.protocol import ChatBackend
from ponder.backends.types import Usage
from ponder.graphs.approval import ApprovalPolicy
from ponder.graphs.budgets import Budgets
from ponder.graphs.debug import (
    APPLY_PATCH,
    DEBUG_SYSTEM_PROMPT,
    EXPLAIN_SYSTEM_PROMPT,
    DebugContext,
    DebugReport,
    DebugState,
    TracebackExplanation,
    build_debug_graph,
)
from ponder.graphs.debug_sandbox import SandboxProject
from ponder.memory import MemoryStore
from ponder.memory.runs import RunNotClaimable

__all__ = ["DebuggerAgent", "build_debugger_agent"]

_DEFAULT_QUESTION = "The command fails. Find the root cause and fix it."


class DebuggerAgent(Agent):
    """Reproduce → diagnose → fix → re-test on ``project`` (see the module docs).

    ``budgets`` bound each diagnosis (steps, tool calls, tokens per attempt);
    ``budgets.wall_time_s`` bounds the whole run. ``max_attempts`` bounds the
    patches tried. ``tools`` are extra tools for the diagnosis (``run_python``
    in the sandbox is always there). ``approvals`` may hold a policy for
    :data:`~ponder.graphs.debug.APPLY_PATCH` only (the diagnosis's own calls
    run in the sandbox and are not asked about); it matters with
    ``apply=True``. An edit decision is refused for it.
    """

    def __init__(
        self,
        backend: ChatBackend,
        *,
        project: Path,
        command: str,
        tools: Sequence[Any] = (),
        memory: MemoryStore | None = None,
        budgets: Budgets | None = None,
        apply: bool = False,
        max_attempts: int = 3,
        command_timeout_s: float = 60.0,
        approvals: Mapping[str, ApprovalPolicy] | None = None,
    ) -> None:
        project = Path(project).expanduser().resolve()
        if not project.is_dir():
            raise ValueError(f"the project folder {str(project)!r} does not exist")
        if not command.strip():
            raise ValueError("the command is empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        others = sorted(set(approvals or {}) - {APPLY_PATCH})
        if others:
            raise ValueError(
                f"the debugger asks for approval of {APPLY_PATCH!r} only, not {', '.join(others)}"
            )
        super().__init__(
            backend, tools, memory=memory, budgets=budgets, system_prompt=DEBUG_SYSTEM_PROMPT
        )
        self.project = project
        self.command = command
        self.apply = apply
        self.approvals = dict(approvals or {})
        self.max_attempts = max_attempts
        self.command_timeout_s = command_timeout_s
        self._extra_tools = list(tools)
        self._durable = _DebugRuns(self)

    def astream(
        self, question: str = "", *, thread_id: str | None = None, instructions: str | None = None
    ) -> AsyncIterator[AgentEvent]:
        """Stream the diagnosis's events; the last one is a :class:`FinalEvent`.

        ``question`` is an optional note from the user (what they saw or suspect);
        ``instructions`` are added to it (the debugger's own prompts are fixed).
        """
        note = f"{instructions}\n\n{question}".strip() if instructions else question
        return super().astream(note, thread_id=thread_id)

    def _checked_question(self, question: str) -> str:
        return question.strip() or _DEFAULT_QUESTION

    def _result(self, state: Any, thread_id: str, reasoning: str) -> RunResult:
        debug_state = cast(DebugState, state)
        report: DebugReport | None = debug_state.get("report")
        outcome = "wall_time" if report is None else debug_state.get("outcome")
        return RunResult(
            answer=report,
            answer_text=report.to_text() if report is not None else None,
            thread_id=thread_id,
            outcome=outcome or "max_steps",
            tool_calls=list(debug_state.get("tool_records", [])),
            usage=debug_state.get("usage", Usage()),
            steps=debug_state.get("steps", 0),
            thinking_skipped=debug_state.get("thinking_skipped", False),
            model=self.backend.model,
            reasoning=reasoning,
        )


class _DebugRuns(DurableRuns):
    """Durable runs of the debug graph: a fresh sandbox copy for each segment of a run."""

    def __init__(self, agent: DebuggerAgent) -> None:
        super().__init__(agent, None, None)
        self._debugger = agent

    def _is_durable(self) -> bool:
        return True

    def _durable_graph_builder(self, checkpointer: Checkpointer) -> Any:
        return build_debug_graph(checkpointer=checkpointer)

    async def _durable_input(self, spec: RunSpec) -> DebugState:
        agent = self._debugger
        return {
            "question": spec.question,
            "project": str(agent.project),
            "command": agent.command,
            "apply": agent.apply,
            "apply_asks": agent.approvals.get(APPLY_PATCH, "never") != "never",
            "attempts": [],
            "steps": 0,
        }

    @asynccontextmanager
    async def _durable_context(
        self, spec: RunSpec, emit: Callable[[Any], None]
    ) -> AsyncIterator[DebugContext]:
        agent = self._debugger
        project = await asyncio.to_thread(SandboxProject, agent.project)
        try:
            yield DebugContext(
                backend=agent.backend,
                project=project,
                command=agent.command,
                budgets=agent.budgets,
                max_attempts=agent.max_attempts,
                command_timeout_s=agent.command_timeout_s,
                tools=agent._extra_tools,
                temperature=agent._options["temperature"],  # type: ignore[arg-type]
                top_p=agent._options["top_p"],  # type: ignore[arg-type]
                approval=agent.approvals.get(APPLY_PATCH),
                decided=spec.decided,
            )
        finally:
            await project.aclose()

    def _recursion_limit(self) -> int:
        agent = self._debugger
        return agent.max_attempts * (4 * agent.budgets.max_steps + 20) + 10

    def _check_resumable(self, run_id: str, values: Mapping[str, Any]) -> None:
        agent = self._debugger
        subject = (values.get("project"), values.get("command"))
        if subject != (str(agent.project), agent.command):
            raise RunNotClaimable(
                run_id,
                f"it debugs {subject[0]} with the command {subject[1]!r}; "
                "resume it with that project and command",
            )


def build_debugger_agent(
    *,
    backend: ChatBackend,
    memory: MemoryStore | None = None,
    budgets: Budgets | None = None,
    project: str | Path | None = None,
    command: str | None = None,
    mode: Literal["fix", "explain"] = "fix",
    apply: bool = False,
    max_attempts: int = 3,
    tools: Sequence[Any] | None = None,
    approvals: Mapping[str, ApprovalPolicy] | None = None,
) -> Agent:
    """The debugger (``ponder run --agent debugger``).

    ``mode="fix"`` needs ``project`` (a folder) and ``command`` (e.g.
    ``"python -m unittest"`` or ``"pytest -x"``) and returns a
    :class:`DebuggerAgent`; ``mode="explain"`` needs neither and returns an
    :class:`Agent` whose answer is a :class:`TracebackExplanation`. ``tools``
    defaults to the offline search index. ``approvals`` (fix mode only): a
    policy for :data:`~ponder.graphs.debug.APPLY_PATCH`, e.g. ``{"apply_patch": "always"}``.
    """
    if tools is None:
        from ponder.tools.search import LocalIndex, search_tool

        tools = [search_tool(LocalIndex.default())]
    if mode == "explain":
        if approvals:
            raise ValueError("the debugger's explain mode writes nothing, so it asks for nothing")
        return Agent(
            backend,
            tools,
            memory=memory,
            budgets=budgets,
            system_prompt=EXPLAIN_SYSTEM_PROMPT,
            response_schema=TracebackExplanation,
        )
    if mode != "fix":
        raise ValueError(f"unknown debugger mode {mode!r}; expected 'fix' or 'explain'")
    if project is None or not command:
        raise ValueError("the debugger's fix mode needs a project folder and a command")
    return DebuggerAgent(
        backend,
        project=Path(project),
        command=command,
        tools=tools,
        memory=memory,
        budgets=budgets,
        apply=apply,
        max_attempts=max_attempts,
        approvals=approvals,
    )
