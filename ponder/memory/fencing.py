"""Lease fencing: a worker that lost a run's lease writes nothing more to that run.

A worker that stalls (SIGSTOP, a long GC pause, a network partition) past its
lease can have its run claimed by another worker (:meth:`RunLedger.claim
<ponder.memory.RunLedger.claim>`). When it wakes up it must not go on
writing the run. So every checkpoint write of a run that has a row in
``runs`` checks, inside the write's own transaction, that the row still
names this worker's ledger as the owner (and that no newer run superseded
it); if not, the write is rolled back and :class:`LeaseLost` raised:

- SQLite: connection-local ``TEMP`` triggers on LangGraph's ``checkpoints``
  and ``writes`` tables abort the ``INSERT`` (SQLite's write lock is held from
  that statement to the commit, so no claim can slip in between);
- PostgreSQL: ``SELECT … FOR SHARE`` of the run's row in the same
  transaction as the write (a claim waits for the write's commit, and a write
  after a claim sees the new owner), pipelined with the write.

A run without a ``runs`` row (no ledger) is not fenced.
"""

from __future__ import annotations

__all__ = [
    "FENCE_ERROR",
    "PG_FENCE_SQL",
    "SQLITE_FENCE_SETUP",
    "SUPERSEDED",
    "LeaseLost",
    "taken_over",
]

FENCE_ERROR = "ponder: lease lost"
"""The message of the SQLite trigger's ``RAISE``: how a fenced write is told from other errors."""

SUPERSEDED = "abandoned"
"""The status of a run whose thread a newer run took over (see ``RunLedger.start``)."""


class LeaseLost(Exception):
    """This worker no longer holds the run's lease: another worker took the run over.

    Raised by a checkpoint write (rolled back: nothing was written) or by
    :meth:`RunLedger.fence <ponder.memory.RunLedger.fence>`. The run goes on
    elsewhere; this worker must stop it without touching the run's row.
    """

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"run {run_id}: this worker lost the run's lease (another worker took the run "
            "over, e.g. after this one stalled past its lease); it stopped and wrote nothing more"
        )
        self.run_id = run_id


def taken_over(owner: str | None, status: str, ours: str) -> bool:
    """Whether a run's row (``owner``, ``status``) says ``ours`` lost the run."""
    return owner != ours or status == SUPERSEDED


SQLITE_FENCE_SETUP: tuple[str, ...] = (
    "CREATE TEMP TABLE IF NOT EXISTS ponder_fence_owner (owner TEXT NOT NULL)",
    *(
        f"CREATE TEMP TRIGGER IF NOT EXISTS ponder_fence_{table} BEFORE INSERT ON main.{table} "
        "WHEN EXISTS (SELECT 1 FROM main.runs r WHERE r.run_id = NEW.thread_id AND "
        "(r.owner IS NOT (SELECT owner FROM temp.ponder_fence_owner) "
        f"OR r.status = '{SUPERSEDED}')) "
        f"BEGIN SELECT RAISE(ABORT, '{FENCE_ERROR}'); END"
        for table in ("checkpoints", "writes")
    ),
)
"""Statements that fence a SQLite checkpointer's connection (then set its owner row)."""

PG_FENCE_SQL = "SELECT owner, status FROM runs WHERE run_id = %s FOR SHARE"
"""The run's row, locked against a claim until the write's transaction ends."""
