"""Memory of final answers (SQLite or PostgreSQL) and redacting LangGraph checkpointers.

Reasoning is never persisted: the store refuses text carrying reasoning
markers, and the checkpointers strip reasoning from everything they write.
"""

from ponder.memory._uninterrupted import CancelledAfterSave
from ponder.memory.audit import scan_files_for, sqlite_artifacts
from ponder.memory.checkpoint import (
    RedactingSerializer,
    postgres_checkpointer,
    sqlite_checkpointer,
)
from ponder.memory.fencing import LeaseLost
from ponder.memory.migrations import MIGRATIONS, Migration, SchemaVersionError
from ponder.memory.models import ThreadInfo, ToolCallSummary, TurnRecord
from ponder.memory.redaction import (
    ReasoningLeakError,
    contains_reasoning,
    redact,
    strip_reasoning,
)
from ponder.memory.runs import (
    RunInfo,
    RunLedger,
    RunNotClaimable,
    RunNotFound,
    ThreadBusy,
)
from ponder.memory.store import MemoryStore, default_sqlite_path

__all__ = [
    "MIGRATIONS",
    "CancelledAfterSave",
    "LeaseLost",
    "MemoryStore",
    "Migration",
    "ReasoningLeakError",
    "RedactingSerializer",
    "RunInfo",
    "RunLedger",
    "RunNotClaimable",
    "RunNotFound",
    "SchemaVersionError",
    "ThreadBusy",
    "ThreadInfo",
    "ToolCallSummary",
    "TurnRecord",
    "contains_reasoning",
    "default_sqlite_path",
    "postgres_checkpointer",
    "redact",
    "scan_files_for",
    "sqlite_artifacts",
    "sqlite_checkpointer",
    "strip_reasoning",
]
