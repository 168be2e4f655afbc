"""Streaming splitter for inline ``<think>…</think>`` reasoning.

Engines that return the model's raw text (llama.cpp with
``--reasoning-format none``, vLLM/SGLang without a reasoning parser, generic
OpenAI-compatible hosts) deliver R1's chain of thought inside the answer
text. :class:`ThinkSplitter` separates it while the text streams in, chunked
at arbitrary character boundaries; :func:`split_think` does the same for a
whole text. Only one think block, at the very start, is recognised.
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Literal

from ponder.backends._trim import Trimmer

__all__ = ["CLOSE_TAG", "OPEN_TAG", "Channel", "ThinkSplitter", "split_think"]

Channel = Literal["reasoning", "content"]
"""Where a piece of streamed text belongs."""

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"
_TAGS = (OPEN_TAG, CLOSE_TAG)
_WINDOW = len(CLOSE_TAG) - 1


class _State(Enum):
    START = auto()  # before any non-whitespace text: is there an opening tag?
    THOUGHT = auto()  # inside the thought, until the closing tag
    WATCH = auto()  # answer text, no tag seen yet: an unpaired closing tag may still come
    ANSWER = auto()  # answer text; tags from here on are literal text


class ThinkSplitter:
    """Split one streamed model output into reasoning and content.

    :meth:`feed` returns the pieces that can be shown now, as
    ``(channel, text)`` pairs with non-empty text; :meth:`flush` ends the
    stream. A suffix that could still be the start of a tag is held back only
    until it is known not to be one; the tags themselves are never emitted
    (except a ``<think>`` inside the answer, which is literal text). Outer
    whitespace of each channel is dropped (R1 writes ``"</think>\\n\\n"``).

    Rules:

    * ``<think>`` before any other non-whitespace text opens the thought;
      text up to the first ``</think>`` is reasoning, the rest is content.
    * ``starts_in_thought=True`` (the prompt template or a prefill opened the
      thought, as in the R1-Distill templates): text is reasoning from the
      start; a redundant leading ``<think>`` is dropped.
    * Without it, an unpaired ``</think>`` in the answer means the output
      started inside the thought. The tag is hidden and the final
      :attr:`reasoning` / :attr:`content` move everything before it into
      reasoning (vLLM's ``deepseek_r1`` parser does the same).
      **The pieces already streamed as content cannot be recalled**: a
      consumer that must never show reasoning as content should use
      ``starts_in_thought=True`` for such models, or check
      :attr:`reclassified` at the end.
    * A ``<think>`` after answer text has started is literal content, and so
      is any later ``</think>`` once a block has been closed.
    * A thought that is never closed (e.g. the token budget ran out) is all
      reasoning, with empty content.

    The concatenation of the streamed pieces of a channel equals its final
    property, except for the reclassification above; the final properties do
    not depend on how the text was chunked.
    """

    def __init__(self, *, starts_in_thought: bool = False) -> None:
        self._starts_in_thought = starts_in_thought
        self._state = _State.START
        self._pending = ""
        self._segment = Trimmer()
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._flushed = False
        self.saw_open_tag = False
        self.saw_close_tag = False
        self.reclassified = False
        """Set (only ever by :meth:`feed`) when an unpaired ``</think>`` turns content
        pieces that were already streamed into reasoning."""

    def feed(self, text: str) -> list[tuple[Channel, str]]:
        """Take the next chunk of model output; return the pieces ready to show."""
        if self._flushed:
            raise ValueError("ThinkSplitter.feed() called after flush()")
        self._pending += text
        out: list[tuple[Channel, str]] = []
        self._run(out, final=False)
        return out

    def flush(self) -> list[tuple[Channel, str]]:
        """End the stream: release text held back as a possible partial tag."""
        if self._flushed:
            return []
        self._flushed = True
        out: list[tuple[Channel, str]] = []
        self._run(out, final=True)
        return out

    @property
    def reasoning(self) -> str:
        """The reasoning, without tags or surrounding whitespace (final after flush)."""
        return "".join(self._reasoning)

    @property
    def content(self) -> str:
        """The answer, without tags or surrounding whitespace (final after flush)."""
        return "".join(self._content)

    @property
    def thinking_skipped(self) -> bool:
        """A thought was opened and closed with nothing (but whitespace) in it."""
        return self.saw_close_tag and not self._reasoning

    def _run(self, out: list[tuple[Channel, str]], *, final: bool) -> None:
        buf = self._pending
        while buf:
            state = self._state
            if state is _State.START:
                buf = buf.lstrip()
                if buf.startswith(OPEN_TAG):
                    self.saw_open_tag = True
                    self._state = _State.THOUGHT
                    buf = buf[len(OPEN_TAG) :]
                elif buf and (final or not OPEN_TAG.startswith(buf)):
                    self._state = _State.THOUGHT if self._starts_in_thought else _State.WATCH
                else:
                    break
            elif state is _State.THOUGHT:
                end = buf.find(CLOSE_TAG)
                if end < 0:
                    cut = len(buf) if final else _partial_tag_start(buf, (CLOSE_TAG,))
                    self._emit("reasoning", buf[:cut], out)
                    buf = buf[cut:]
                    break
                self._emit("reasoning", buf[:end], out)
                self._close()
                buf = buf[end + len(CLOSE_TAG) :]
            elif state is _State.WATCH:
                end = buf.find(CLOSE_TAG)
                literal = buf.find(OPEN_TAG, 0, end if end >= 0 else len(buf))
                if literal >= 0:
                    self._emit("content", buf[: literal + len(OPEN_TAG)], out)
                    self._state = _State.ANSWER
                    buf = buf[literal + len(OPEN_TAG) :]
                elif end >= 0:
                    self._reclassify()
                    self._emit("reasoning", buf[:end], out)
                    self._close()
                    buf = buf[end + len(CLOSE_TAG) :]
                else:
                    cut = len(buf) if final else _partial_tag_start(buf, _TAGS)
                    self._emit("content", buf[:cut], out)
                    buf = buf[cut:]
                    break
            else:
                self._emit("content", buf, out)
                buf = ""
        self._pending = buf

    def _emit(self, channel: Channel, text: str, out: list[tuple[Channel, str]]) -> None:
        piece = self._segment.push(text)
        if not piece:
            return
        (self._reasoning if channel == "reasoning" else self._content).append(piece)
        if out and out[-1][0] == channel:
            out[-1] = (channel, out[-1][1] + piece)
        else:
            out.append((channel, piece))

    def _close(self) -> None:
        self.saw_close_tag = True
        self._state = _State.ANSWER
        self._segment = Trimmer()

    def _reclassify(self) -> None:
        # The current segment keeps its held whitespace: the text continues as reasoning.
        self.reclassified = bool(self._content)
        self._reasoning, self._content = self._content, []


def _partial_tag_start(buf: str, tags: tuple[str, ...]) -> int:
    """Where a suffix of ``buf`` that could begin one of ``tags`` starts (``len(buf)`` if none)."""
    i = buf.find("<", max(0, len(buf) - _WINDOW))
    while i >= 0:
        tail = buf[i:]
        if any(tag.startswith(tail) for tag in tags):
            return i
        i = buf.find("<", i + 1)
    return len(buf)


def split_think(text: str, *, starts_in_thought: bool = False) -> tuple[str, str]:
    """Split a complete model output into ``(reasoning, content)``; see :class:`ThinkSplitter`."""
    splitter = ThinkSplitter(starts_in_thought=starts_in_thought)
    splitter.feed(text)
    splitter.flush()
    return splitter.reasoning, splitter.content
