"""Request bodies of the native API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ponder.memory.models import THREAD_ID_MAX

__all__ = ["RunRequest", "ThreadId"]

ThreadId = Annotated[
    str, StringConstraints(min_length=1, max_length=THREAD_ID_MAX, pattern=r"^[^\x00/]+$")
]


class RunRequest(BaseModel):
    """``POST /agents/{agent}/runs`` and ``/runs/stream``.

    Without ``thread_id`` the run starts a new thread (its id is in the
    response). ``include_reasoning`` takes effect only on a server created
    with ``allow_reasoning=True``.
    """

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)
    thread_id: ThreadId | None = None
    include_reasoning: bool = False

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is blank")
        return value
