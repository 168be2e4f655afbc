"""Ready agents: the generic reason–act ``Agent`` and its results."""

from ponder.agents.agent import DEFAULT_SYSTEM_PROMPT, Agent, AgentEvent, StreamingAgent
from ponder.agents.result import FinalEvent, RunResult

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "Agent",
    "AgentEvent",
    "FinalEvent",
    "RunResult",
    "StreamingAgent",
]
