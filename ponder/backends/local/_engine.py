"""What the in-process engines share: a worker thread, a stop flag, one parser chain.

An engine supplies a blocking :data:`Work` function that generates text
pieces through ``emit`` and checks ``stop`` once per token. :func:`stream_work`
runs it on its own thread (never on the event loop), turns each piece into
stream events with the HTTP path's :class:`~ponder.backends.wire.ResponseAssembler`
(think splitter, then R1 raw tool-call parser) and ends with one
:class:`~ponder.backends.types.Completed`. Closing or cancelling the stream
sets ``stop`` and waits for the thread to notice, so no generation outlives
its consumer by more than one token.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal, Self

from ponder.backends.errors import BackendError
from ponder.backends.profiles import ProviderProfile
from ponder.backends.types import ChatRequest, Completed, Completion, StreamEvent, Usage
from ponder.backends.wire import Delta, ResponseAssembler, check_reasoning_budget

__all__ = [
    "Emit",
    "GenerationStats",
    "StopMatcher",
    "Work",
    "collect",
    "local_profile",
    "stream_work",
]

Emit = Callable[[str], None]


@dataclass(frozen=True)
class GenerationStats:
    """How a generation ended, and its token counts."""

    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None = None
    """Prompt tokens reused from an earlier evaluation instead of read again."""


Work = Callable[[Emit, threading.Event], GenerationStats]
"""Blocking generation: emit text pieces, return stats; stop soon after the event is set."""


def local_profile(name: str) -> ProviderProfile:
    """The profile of an in-process engine: raw model text, parsed by ponder."""
    return ProviderProfile(
        name=name,
        reasoning_fields=(),
        inline_think=True,
        raw_tool_tokens=True,
        replay="never",
        stream_usage=False,
    )


class StopMatcher:
    """Cut generated text at the first stop string, holding back possible partial matches."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The text that is safe to emit now; sets :attr:`stopped` at a stop string."""
        if not self._stops:
            return text
        buf = self._held + text
        cut = min((i for i in (buf.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self._held, self.stopped = "", True
            return buf[:cut]
        keep = max((_overlap(buf, s) for s in self._stops), default=0)
        self._held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


def _overlap(buf: str, stop: str) -> int:
    """Length of the longest suffix of ``buf`` that is a proper prefix of ``stop``."""
    for size in range(min(len(buf), len(stop) - 1), 0, -1):
        if stop.startswith(buf[-size:]):
            return size
    return 0


@dataclass(frozen=True)
class _Done:
    stats: GenerationStats


@dataclass(frozen=True)
class _Failed:
    error: BaseException


async def stream_work(
    work: Work, *, profile: ProviderProfile, starts_in_thought: bool, model: str
) -> AsyncGenerator[StreamEvent, None]:
    """Run ``work`` on a thread and yield its output as stream events, then ``Completed``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | _Done | _Failed] = asyncio.Queue()
    stop = threading.Event()

    def put(item: str | _Done | _Failed) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def run() -> None:
        try:
            put(_Done(work(put, stop)))
        except BaseException as exc:
            put(_Failed(exc))

    assembler = ResponseAssembler(
        profile, starts_in_thought=starts_in_thought, model=model, prompt_known=True
    )
    thread = threading.Thread(target=run, name=f"ponder-{profile.name}", daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            item = await queue.get()
            if isinstance(item, str):
                for event in assembler.add(Delta(content=item)):
                    yield event
                continue
            finished = True
            if isinstance(item, _Failed):
                raise _as_backend_error(item.error, profile.name)
            stats = item.stats
            usage = Usage(
                prompt_tokens=stats.prompt_tokens,
                completion_tokens=stats.completion_tokens,
                cached_tokens=stats.cached_tokens,
            )
            for event in assembler.add(Delta(finish_reason=stats.finish_reason, usage=usage)):
                yield event
            break
        for event in assembler.finish():
            yield event
        completion = assembler.completion()
        check_reasoning_budget(completion, advice="raise max_tokens")
        yield Completed(completion=completion)
    finally:
        if not finished:
            stop.set()
            while not isinstance(await queue.get(), _Done | _Failed):
                pass


async def collect(events: AsyncIterator[StreamEvent]) -> Completion:
    """The :class:`Completion` that ends a stream (closing the stream either way)."""
    completion: Completion | None = None
    try:
        async for event in events:
            if isinstance(event, Completed):
                completion = event.completion
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    if completion is None:
        raise BackendError("the local engine ended without a completion")
    return completion


def _as_backend_error(error: BaseException, engine: str) -> BaseException:
    if isinstance(error, BackendError | KeyboardInterrupt | SystemExit):
        return error
    return BackendError(f"the {engine} engine failed: {type(error).__name__}: {error}")


class LocalBackend(ABC):
    """What the in-process backends share around their own ``stream`` and ``_load``.

    Subclasses set ``_name`` and ``_profile`` and load their model once per
    process in ``_load``; the model stays shared, so ``aclose`` frees nothing.
    """

    _name: str
    _profile: ProviderProfile

    @property
    def profile(self) -> ProviderProfile:
        return self._profile

    @property
    def model(self) -> str:
        return self._name

    async def load(self) -> None:
        """Load the model now (downloading it first if needed), off the event loop."""
        await asyncio.to_thread(self._load)

    async def complete(self, request: ChatRequest) -> Completion:
        """One turn, generated in full."""
        return await collect(self.stream(request))

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Reasoning, content and tool-call deltas as the model writes them, then ``Completed``."""

    @abstractmethod
    def _load(self) -> object: ...

    async def aclose(self) -> None:  # noqa: B027 (deliberately empty, not abstract)
        """Nothing to close: the loaded model stays shared for the process."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self._name!r})"
