"""Human approval of tool calls: policies, pending calls, decisions and the gate.

A call that needs approval pauses the run with LangGraph's ``interrupt``
before any tool of that step runs; the interrupt's value lists the pending
calls (tool, validated arguments, the answer text so far — never reasoning).
The run continues with ``Command(resume=decisions)``: approved calls run,
rejected ones become a tool message with the person's words, edited ones run
with the new arguments (validated against the tool's schema again).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field

from ponder.backends.types import AssistantMessage, Message, ToolCall, UserMessage
from ponder.tools import ToolBox
from ponder.tools.schema import drop_defaulted_nulls

__all__ = [
    "ApprovalPolicy",
    "Approve",
    "Decision",
    "Edit",
    "InvalidDecision",
    "PendingCall",
    "Reject",
    "decision_from_json",
    "needs_approval",
    "pending_calls",
    "validate_decisions",
]

ApprovalPolicy = Literal["never", "always"] | Callable[[dict[str, Any]], bool]
"""``"never"``, ``"always"``, or a predicate on the validated arguments."""


class PendingCall(BaseModel):
    """A tool call waiting for a person's decision."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    tool: str
    arguments: dict[str, Any]
    intent: str = ""
    """The answer text the model wrote in this turn so far (never its reasoning)."""
    editable: bool = True
    """Whether an :class:`Edit` may replace the arguments (not for the debugger's
    ``apply_patch``: an edited diff was never tested in the sandbox)."""


_DECLINED = "The user declined this tool call."


class Approve(BaseModel):
    """Run the call as the model asked."""

    model_config = ConfigDict(frozen=True)
    action: Literal["approve"] = "approve"


class Reject(BaseModel):
    """Do not run the call; the model reads ``message``."""

    model_config = ConfigDict(frozen=True)
    message: str = _DECLINED
    action: Literal["reject"] = "reject"

    def __init__(self, message: str = _DECLINED, **data: Any) -> None:
        super().__init__(message=message, **data)


class Edit(BaseModel):
    """Run the call with these arguments instead (validated against the schema)."""

    model_config = ConfigDict(frozen=True)
    arguments: dict[str, Any] = Field(default_factory=dict)
    action: Literal["edit"] = "edit"

    def __init__(self, arguments: dict[str, Any] | None = None, **data: Any) -> None:
        super().__init__(arguments=arguments or {}, **data)


Decision = Approve | Reject | Edit


class InvalidDecision(ValueError):
    """Decisions that do not fit the pending calls (missing, unknown or invalid edits)."""


def decision_from_json(data: Mapping[str, Any]) -> Decision:
    """A decision from ``{"action": "approve"|"reject"|"edit", ...}``."""
    action = data.get("action")
    if action == "approve":
        return Approve()
    if action == "reject":
        message = data.get("message")
        return Reject(message=message) if isinstance(message, str) and message else Reject()
    if action == "edit":
        arguments = data.get("arguments")
        if not isinstance(arguments, dict):
            raise InvalidDecision("an edit decision needs 'arguments' (a JSON object)")
        return Edit(arguments=arguments)
    raise InvalidDecision(f"unknown action {action!r}; expected approve, reject or edit")


def needs_approval(policy: ApprovalPolicy | None, arguments: dict[str, Any]) -> bool:
    """Whether a call with these (validated) arguments must wait; a failing predicate says yes."""
    if policy is None or policy == "never":
        return False
    if policy == "always":
        return True
    try:
        return bool(policy(arguments))
    except Exception:
        return True


def _valid_arguments(toolbox: ToolBox, call: ToolCall) -> dict[str, Any] | None:
    """The call's arguments when they would pass the toolbox's validation, else ``None``."""
    if call.parse_error is not None or not isinstance(call.parsed, dict):
        return None
    try:
        tool = toolbox.get(call.name)
    except KeyError:
        return None
    cleaned = drop_defaulted_nulls(call.parsed, tool.parameters)
    if next(Draft202012Validator(tool.parameters).iter_errors(cleaned), None) is not None:
        return None
    return dict(cleaned)


def pending_calls(
    toolbox: ToolBox,
    policies: Mapping[str, ApprovalPolicy],
    calls: Sequence[ToolCall],
    messages: Sequence[Message],
) -> list[PendingCall]:
    """The calls of this step that need approval (invalid calls never do: they do not run)."""
    intent = _intent(messages)
    pending = []
    for call in calls:
        arguments = _valid_arguments(toolbox, call)
        if arguments is None:
            continue
        policy = policies.get(call.name, _tool_default(toolbox, call.name))
        if needs_approval(policy, arguments):
            pending.append(
                PendingCall(call_id=call.id, tool=call.name, arguments=arguments, intent=intent)
            )
    return pending


def validate_decisions(
    toolbox: ToolBox, pending: Sequence[PendingCall], decisions: Mapping[str, Decision]
) -> None:
    """Raise :class:`InvalidDecision` unless every pending call has a fitting decision."""
    wanted = {call.call_id: call for call in pending}
    unknown = sorted(set(decisions) - set(wanted))
    if unknown:
        raise InvalidDecision(f"no pending call with id {', '.join(map(repr, unknown))}")
    missing = sorted(set(wanted) - set(decisions))
    if missing:
        raise InvalidDecision(f"no decision for pending call {', '.join(map(repr, missing))}")
    for call_id, decision in decisions.items():
        if isinstance(decision, Edit):
            if not wanted[call_id].editable:
                raise InvalidDecision(
                    f"the {wanted[call_id].tool!r} call cannot be edited: approve or reject it"
                )
            tool = toolbox.get(wanted[call_id].tool)
            cleaned = drop_defaulted_nulls(decision.arguments, tool.parameters)
            error = next(Draft202012Validator(tool.parameters).iter_errors(cleaned), None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "the top level"
                raise InvalidDecision(
                    f"edited arguments for {tool.name!r} are invalid at {where}: {error.message}"
                )


def _tool_default(toolbox: ToolBox, name: str) -> ApprovalPolicy | None:
    try:
        tool = toolbox.get(name)
    except KeyError:
        return None
    policy: ApprovalPolicy | None = getattr(tool, "approval", None)
    return policy


def _intent(messages: Sequence[Message]) -> str:
    """The answer text of the assistant messages after the last user message."""
    texts: list[str] = []
    for message in reversed(messages):
        if isinstance(message, UserMessage):
            break
        if isinstance(message, AssistantMessage) and message.content:
            texts.append(message.content)
    return "\n\n".join(reversed(texts))
