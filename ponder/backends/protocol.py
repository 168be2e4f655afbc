"""The one interface every model backend implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from ponder.backends.profiles import ProviderProfile
from ponder.backends.types import ChatRequest, Completion, StreamEvent

__all__ = ["ChatBackend"]


@runtime_checkable
class ChatBackend(Protocol):
    """Complete or stream one chat request.

    ``stream`` yields reasoning/content/tool-call deltas as they arrive and
    always ends with one :class:`~ponder.backends.types.Completed` event
    (or raises a :class:`~ponder.backends.errors.BackendError`).
    """

    @property
    def profile(self) -> ProviderProfile: ...

    @property
    def model(self) -> str: ...

    async def complete(self, request: ChatRequest) -> Completion: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...
