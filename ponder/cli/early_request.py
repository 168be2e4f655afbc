"""``ponder run``'s first model request, sent while the agent stack is still importing.

Importing LangGraph, langchain-core and SQLAlchemy takes about a second of CPU,
and the first request used to wait for all of it. For the plain reason–act
run (a new thread, no schema, no MCP, no tracing), the first request is fully
known before any of that: the system prompt, the question and the built-in
tools' schemas. So the command builds it from the same parts the agent will
use, starts streaming it, and imports the rest in a thread meanwhile.

The agent's backend is wrapped in :class:`EarlyBackend`: the graph's first
call adopts the stream already under way when its request equals the early
one (field for field), else the early stream is cancelled and the call goes
out as usual. Nothing else changes: the same events, in the same order,
reach the graph either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.backends import ChatBackend
    from ponder.backends.profiles import ProviderProfile
    from ponder.backends.types import ChatRequest, Completion, StreamEvent

__all__ = ["EarlyBackend", "EarlyRequest"]

logger = logging.getLogger("ponder.cli")
_END = object()


class EarlyRequest:
    """One request streaming ahead of its consumer; events wait in a queue until adopted."""

    def __init__(self, backend: ChatBackend, request: ChatRequest) -> None:
        self.request = request
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(backend))

    async def _pump(self, backend: ChatBackend) -> None:
        stream = backend.stream(self.request)
        try:
            async for event in stream:
                self._events.put_nowait(event)
        except Exception as exc:  # handed to whoever adopts the stream
            self._events.put_nowait(exc)
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:  # a cancelled request releases its connection now
                await close()
        self._events.put_nowait(_END)

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The stream's events as they come; its error, if any, is raised at its place."""
        try:
            while (item := await self._events.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the request (a no-op once it ended)."""
        self._task.cancel()

    async def aclose(self) -> None:
        """Cancel it and wait until its connection is released."""
        self.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class EarlyBackend:
    """A backend whose first ``stream`` call may adopt an :class:`EarlyRequest`."""

    def __init__(self, backend: ChatBackend, early: EarlyRequest) -> None:
        self._backend = backend
        self._early: EarlyRequest | None = early

    @property
    def profile(self) -> ProviderProfile:
        return self._backend.profile

    @property
    def model(self) -> str:
        return self._backend.model

    def __getattr__(self, name: str) -> Any:  # base_url, provider, … as the backend has them
        return getattr(self._backend, name)

    async def complete(self, request: ChatRequest) -> Completion:
        self.drop_early()
        return await self._backend.complete(request)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        early, self._early = self._early, None
        if early is not None and early.request == request:
            return early.events()
        if early is not None:
            logger.debug("the first request differed from the early one; sending it anew")
            early.cancel()
        return self._backend.stream(request)

    def drop_early(self) -> None:
        """Cancel the early request if nothing adopted it."""
        early, self._early = self._early, None
        if early is not None:
            early.cancel()

    async def aclose(self) -> None:
        early, self._early = self._early, None
        if early is not None:
            await early.aclose()
        await self._backend.aclose()
