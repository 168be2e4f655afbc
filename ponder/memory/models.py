"""Pydantic records returned by the store, and the SQLAlchemy tables behind them.

The tables are the *current* schema; :mod:`ponder.memory.migrations` brings a
database to it. There is deliberately no column that could hold reasoning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ARGUMENTS_CAP",
    "OUTPUT_PREVIEW_CAP",
    "THREAD_ID_MAX",
    "Base",
    "RunEventRow",
    "RunRow",
    "ThreadInfo",
    "ThreadRow",
    "ToolCallSummary",
    "TurnRecord",
    "TurnRow",
    "UTCDateTime",
]

ARGUMENTS_CAP = 4_000
OUTPUT_PREVIEW_CAP = 2_000
THREAD_ID_MAX = 200


def _cap(text: str, limit: int) -> str:
    text = text.replace("\x00", "")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit} more chars]"


class ToolCallSummary(BaseModel):
    """What one tool call did, short enough to keep: no reasoning, capped text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    arguments: str = Field(default="{}", description=f"JSON text, capped at {ARGUMENTS_CAP}")
    ok: bool = True
    output_preview: str = Field(default="", description=f"capped at {OUTPUT_PREVIEW_CAP}")

    @field_validator("arguments")
    @classmethod
    def _cap_arguments(cls, value: str) -> str:
        return _cap(value, ARGUMENTS_CAP)

    @field_validator("output_preview")
    @classmethod
    def _cap_output(cls, value: str) -> str:
        return _cap(value, OUTPUT_PREVIEW_CAP)


class TurnRecord(BaseModel):
    """One finished turn: the question and its final answer (JSON text when structured)."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    index: int
    question: str
    answer: str
    tool_calls: list[ToolCallSummary] = Field(default_factory=list)
    model: str | None = None
    usage: dict[str, int] = Field(default_factory=dict)
    started_at: datetime
    finished_at: datetime


class ThreadInfo(BaseModel):
    """A conversation thread and how many turns it holds."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    turn_count: int


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC and read back as UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the memory tables."""


class ThreadRow(Base):
    __tablename__ = "threads"

    id: Mapped[str] = mapped_column(String(THREAD_ID_MAX), primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class TurnRow(Base):
    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("thread_id", "idx", name="uq_turns_thread_idx"),
        Index("uq_turns_run_id", "run_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(
        String(THREAD_ID_MAX), ForeignKey("threads.id", ondelete="CASCADE"), nullable=False
    )
    idx: Mapped[int] = mapped_column(Integer, nullable=False)
    question: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[str] = mapped_column(Text, nullable=False)
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    model: Mapped[str | None] = mapped_column(Text)
    usage: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(64))


class RunRow(Base):
    """One run: its thread, status and lease (who runs it, until when)."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(THREAD_ID_MAX), nullable=False, index=True)
    agent: Mapped[str | None] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RunEventRow(Base):
    """A kept stream event of a run (never reasoning), for SSE reconnects."""

    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event: Mapped[str] = mapped_column(String(40), nullable=False)
    data: Mapped[str] = mapped_column(Text, nullable=False)
