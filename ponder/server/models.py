"""Request bodies of the native API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = ["THREAD_ID_PATTERN", "RunRequest", "ThreadId"]

THREAD_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
"""Thread ids the server accepts: 1-128 ASCII letters, digits and ``._:-``.

Checked before anything runs, so an id is always safe in a header, a URL
and a log line.
"""

ThreadId = Annotated[str, StringConstraints(pattern=THREAD_ID_PATTERN)]


class RunRequest(BaseModel):
    """``POST /agents/{agent}/runs`` and ``/runs/stream``.

    Without ``thread_id`` the run starts a new thread (its id is in the
    response). ``include_reasoning`` takes effect only on a server created
    with ``allow_reasoning=True``. ``background`` queues the run and answers
    202 at once (``/runs`` only, on a server with background runs).
    """

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)
    thread_id: ThreadId | None = None
    include_reasoning: bool = False
    background: bool = False

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is blank")
        return value
