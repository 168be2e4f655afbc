"""Ready agents: the generic reason–act ``Agent`` and its results.

The names load on first use (``from ponder.agents import Agent`` imports
LangGraph and SQLAlchemy then), so light modules such as
:mod:`ponder.agents.prompts` can be imported without them.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.agents.agent import Agent, AgentEvent, StreamingAgent
    from ponder.agents.prompts import DEFAULT_SYSTEM_PROMPT
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

_HOME = {
    "DEFAULT_SYSTEM_PROMPT": "ponder.agents.prompts",
    "Agent": "ponder.agents.agent",
    "AgentEvent": "ponder.agents.agent",
    "StreamingAgent": "ponder.agents.agent",
    "FinalEvent": "ponder.agents.result",
    "RunResult": "ponder.agents.result",
    **dict.fromkeys(
        ("ApprovalPolicy", "Approve", "Decision", "Edit", "InvalidDecision", "PendingCall"),
        "ponder.graphs.approval",
    ),
    "Reject": "ponder.graphs.approval",
    **dict.fromkeys(("RunNotClaimable", "RunNotFound", "ThreadBusy"), "ponder.memory.runs"),
}


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'ponder.agents' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
