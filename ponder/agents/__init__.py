"""Ready agents: the generic reason–act ``Agent`` and its results."""

from ponder.agents.agent import DEFAULT_SYSTEM_PROMPT, Agent, AgentEvent, StreamingAgent
from ponder.agents.result import FinalEvent, RunResult
from ponder.graphs.approval import (
    ApprovalPolicy,
    Approve,
    Decision,
    Edit,
    InvalidDecision,
    PendingCall,
    Reject,
)
from ponder.memory.runs import RunNotClaimable, RunNotFound, ThreadBusy

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "Agent",
    "AgentEvent",
    "ApprovalPolicy",
    "Approve",
    "Decision",
    "Edit",
    "FinalEvent",
    "InvalidDecision",
    "PendingCall",
    "Reject",
    "RunNotClaimable",
    "RunNotFound",
    "RunResult",
    "StreamingAgent",
    "ThreadBusy",
]
