"""The run ledger: one run per thread and run leases, enforced by the database.

Every run has a row in ``runs`` (thread, agent, question, status, lease). A
new run on a thread is refused while another run of that thread is
``awaiting_approval`` or ``running`` with a live lease; the check and the
insert are one transaction serialised per thread (a transaction advisory
lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so it holds across
processes and machines. The process that holds a run renews its lease every
``lease_s / 3`` seconds; a run whose lease expired was abandoned (its
process died) and may be claimed by exactly one other process to resume it
(an ``UPDATE … WHERE lease expired`` that one claimer wins). Leases use the
clocks of the processes involved: keep machines in NTP sync.

A process that stalled past its lease may find its run taken over when it
wakes: its renewals then match no row and it stops holding the run, and its
checkpoint writes are fenced (:mod:`ponder.memory.fencing`): they raise
:class:`~ponder.memory.fencing.LeaseLost` and write nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, insert, or_, select, text, update

from ponder.memory.fencing import LeaseLost, taken_over
from ponder.memory.models import RunRow
from ponder.memory.redaction import strip_reasoning
from ponder.memory.store import MemoryStore

__all__ = [
    "DEFAULT_LEASE_S",
    "LeaseLost",
    "RunInfo",
    "RunLedger",
    "RunNotClaimable",
    "RunNotFound",
    "RunStatus",
    "ThreadBusy",
]

DEFAULT_LEASE_S = 30.0
RunStatus = Literal["running", "awaiting_approval", "done", "failed", "cancelled", "abandoned"]
_ACTIVE = ("running", "awaiting_approval")
_BUSY_WORDS = {"awaiting_approval": " waiting for approval", "queued": " queued"}
_LEDGERS: weakref.WeakKeyDictionary[MemoryStore, RunLedger] = weakref.WeakKeyDictionary()
logger = logging.getLogger("ponder.memory")


class RunInfo(BaseModel):
    """A run as the ledger knows it."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    thread_id: str
    agent: str | None
    question: str
    status: str
    owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def abandoned(self) -> bool:
        """Running, but its lease expired: the process that ran it is gone."""
        expires = self.lease_expires_at
        return self.status == "running" and (expires is None or expires < datetime.now(UTC))


class ThreadBusy(Exception):
    """The thread already has a run in progress (or one waiting for approval)."""

    def __init__(self, thread_id: str, run_id: str, status: str) -> None:
        waiting = _BUSY_WORDS.get(status, " in progress")
        which = f" (run {run_id})" if run_id else ""
        super().__init__(f"thread {thread_id!r} already has a run{waiting}{which}")
        self.thread_id, self.run_id, self.status = thread_id, run_id, status


class RunNotFound(KeyError):
    """No run with this id."""

    def __str__(self) -> str:
        return f"no run {self.args[0]!r}"


class RunNotClaimable(Exception):
    """The run exists but cannot be taken now (running elsewhere, finished, not waiting)."""

    def __init__(self, run_id: str, why: str) -> None:
        super().__init__(f"run {run_id} cannot be taken: {why}")
        self.run_id = run_id


class RunLedger:
    """Runs and their leases in the memory database. Get one with :meth:`for_store`."""

    def __init__(self, store: MemoryStore, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.store = store
        self.lease_s = lease_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held: set[str] = set()
        self._lost: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None

    @classmethod
    def for_store(cls, store: MemoryStore, *, lease_s: float | None = None) -> RunLedger:
        """The ledger of ``store`` (one per store and process, so agents and server share it)."""
        ledger = _LEDGERS.get(store)
        if ledger is None:
            ledger = _LEDGERS[store] = cls(store, lease_s=lease_s or DEFAULT_LEASE_S)
        elif lease_s is not None:
            ledger.lease_s = lease_s
        return ledger

    # --------------------------------------------------------------- claims

    async def start(
        self, thread_id: str, question: str, *, agent: str | None = None, run_id: str | None = None
    ) -> str:
        """Record a new running run on ``thread_id``; :class:`ThreadBusy` if the thread is taken."""
        run_id = run_id or uuid.uuid4().hex
        await self.store.ensure_schema()
        now = datetime.now(UTC)
        async with self.store.write_engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:t, 7))"), {"t": thread_id}
                )
            rows = (
                await conn.execute(
                    select(RunRow.run_id, RunRow.status, RunRow.lease_expires_at).where(
                        RunRow.thread_id == thread_id, RunRow.status.in_(_ACTIVE)
                    )
                )
            ).all()
            for other, status, expires in rows:
                if status == "awaiting_approval" or (expires is not None and expires > now):
                    raise ThreadBusy(thread_id, other, status)
                await conn.execute(  # its process died; the new run supersedes it
                    update(RunRow)
                    .where(RunRow.run_id == other, RunRow.status == "running")
                    .values(status="abandoned", updated_at=now)
                )
            await conn.execute(
                insert(RunRow).values(
                    run_id=run_id,
                    thread_id=thread_id,
                    agent=agent,
                    question=strip_reasoning(question).replace("\x00", ""),
                    status="running",
                    owner=self.owner,
                    lease_expires_at=now + timedelta(seconds=self.lease_s),
                    created_at=now,
                    updated_at=now,
                )
            )
        self._hold(run_id)
        return run_id

    async def claim(self, run_id: str, *, awaiting: bool) -> RunInfo:
        """Take a run to resume it.

        ``awaiting=True`` takes a run waiting for approval (decisions);
        otherwise an abandoned one (lease expired). Exactly one claimer wins.
        Raises :class:`RunNotFound` or :class:`RunNotClaimable`.
        """
        await self.store.ensure_schema()
        now = datetime.now(UTC)
        condition = (
            RunRow.status == "awaiting_approval"
            if awaiting
            else and_(
                RunRow.status == "running",
                or_(RunRow.lease_expires_at.is_(None), RunRow.lease_expires_at < now),
            )
        )
        async with self.store.write_engine.begin() as conn:
            result = await conn.execute(
                update(RunRow)
                .where(RunRow.run_id == run_id, condition)
                .values(
                    status="running",
                    owner=self.owner,
                    lease_expires_at=now + timedelta(seconds=self.lease_s),
                    updated_at=now,
                )
            )
        run = await self.get(run_id)
        if run is None:
            raise RunNotFound(run_id)
        if result.rowcount != 1:
            wanted = "waiting for approval" if awaiting else "abandoned"
            raise RunNotClaimable(run_id, f"it is {run.status}, not {wanted}")
        self._hold(run_id)
        return run

    def holds(self, run_id: str) -> bool:
        """Whether this process holds the run's lease (as far as it knows: see :meth:`fence`)."""
        return run_id in self._held

    async def fence(self, run_id: str) -> None:
        """Raise :class:`LeaseLost` if another owner took the run (checked in the database).

        Also when a newer run superseded it on its thread. A run this ledger
        already knows it lost raises without a query; an unknown run passes
        (it has no lease to lose). Checkpoint writes do this check themselves,
        inside their transaction; call this before other writes for a run.
        """
        if run_id in self._lost:
            raise LeaseLost(run_id)
        await self.store.ensure_schema()
        stmt = select(RunRow.owner, RunRow.status).where(RunRow.run_id == run_id)
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is not None and taken_over(row.owner, row.status, self.owner):
            self._lose(run_id)
            raise LeaseLost(run_id)

    async def finish(self, run_id: str, status: RunStatus) -> None:
        """Set the status of a run this process holds and stop renewing its lease."""
        self._held.discard(run_id)
        now = datetime.now(UTC)
        async with self.store.write_engine.begin() as conn:
            await conn.execute(
                update(RunRow)
                .where(RunRow.run_id == run_id, RunRow.owner == self.owner)
                .values(status=status, updated_at=now, lease_expires_at=None)
            )

    # -------------------------------------------------------------- queries

    async def get(self, run_id: str) -> RunInfo | None:
        await self.store.ensure_schema()
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(RunRow).where(RunRow.run_id == run_id))).first()
        return None if row is None else _info(row)

    async def active_run(self, thread_id: str) -> RunInfo | None:
        """The run holding ``thread_id`` now (waiting for approval, or running on a live lease)."""
        await self.store.ensure_schema()
        stmt = select(RunRow).where(RunRow.thread_id == thread_id, RunRow.status.in_(_ACTIVE))
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        runs = [_info(row) for row in rows]
        return next((run for run in runs if not run.abandoned), None)

    async def list(self, *, status: str | None = None, limit: int = 50) -> list[RunInfo]:
        """Runs, newest first (``status="abandoned"`` lists running runs with expired leases)."""
        await self.store.ensure_schema()
        stmt = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.run_id)
        if status == "abandoned":
            now = datetime.now(UTC)
            stmt = stmt.where(
                RunRow.status == "running",
                or_(RunRow.lease_expires_at.is_(None), RunRow.lease_expires_at < now),
            )
        elif status is not None:
            stmt = stmt.where(RunRow.status == status)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(stmt.limit(limit))).all()
        return [_info(row) for row in rows]

    # -------------------------------------------------------------- leases

    def _hold(self, run_id: str) -> None:
        self._lost.discard(run_id)
        self._held.add(run_id)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        while self._held:
            await asyncio.sleep(self.lease_s / 3)
            held = list(self._held)
            if not held:
                return
            with contextlib.suppress(Exception):  # a failed renewal is retried next round
                kept = await self._renew_once(held)
                # a run finished meanwhile left _held before its row changed: not lost
                for run_id in set(held).difference(kept).intersection(self._held):
                    self._lose(run_id)
                    logger.warning(
                        "run %s: lease lost (another worker took the run over); "
                        "this worker stops holding it",
                        run_id,
                    )

    async def _renew_once(self, held: Sequence[str]) -> set[str]:
        """Extend the leases of ``held``; the run ids still ours (all of them, usually)."""
        mine = (
            RunRow.run_id.in_(held),
            RunRow.owner == self.owner,
            RunRow.status == "running",
        )
        now = datetime.now(UTC)
        async with self.store.write_engine.begin() as conn:
            result = await conn.execute(
                update(RunRow)
                .where(*mine)
                .values(lease_expires_at=now + timedelta(seconds=self.lease_s))
            )
            if result.rowcount == len(held):
                return set(held)
            return set((await conn.execute(select(RunRow.run_id).where(*mine))).scalars())

    def _lose(self, run_id: str) -> None:
        self._held.discard(run_id)
        self._lost.add(run_id)

    async def aclose(self) -> None:
        """Stop renewing leases (the runs' rows stay as they are)."""
        task, self._renewer = self._renewer, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _info(row: object) -> RunInfo:
    return RunInfo.model_validate(row, from_attributes=True)
