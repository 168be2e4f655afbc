"""Streaming splitter for inline ``<think>…</think>`` reasoning.

Engines that return the model's raw text (llama.cpp with
``--reasoning-format none``, vLLM/SGLang without a reasoning parser, generic
OpenAI-compatible hosts) deliver R1's chain of thought inside the answer
text. :class:`ThinkSplitter` separates it while the text streams in, chunked
at arbitrary character boundaries; :func:`split_think` does the same for a
whole text. Only one think block, at the very start, is recognised.

What is decided comes from what the text shows, never from a model's name,
and nothing streamed as answer text is ever taken back.
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
_WINDOW = len(CLOSE_TAG) - 1


class _State(Enum):
    START = auto()  # before any non-whitespace text: is there an opening tag?
    THOUGHT = auto()  # inside the thought (opened, assumed or provisional), until </think>
    ANSWER = auto()  # answer text; tags from here on are literal text


class _Evidence(Enum):
    TAG = auto()  # the text opened the thought with <think>
    ASSUMED = auto()  # the prompt (template or prefill) opened it
    PROVISIONAL = auto()  # nothing said either way: reasoning until shown otherwise


class ThinkSplitter:
    """Split one streamed model output into reasoning and content.

    :meth:`feed` returns the pieces that can be shown now, as
    ``(channel, text)`` pairs with non-empty text; :meth:`flush` ends the
    stream. A suffix that could still be the start of a tag is held back only
    until it is known not to be one; the tags themselves are never emitted
    (except inside the answer, where tags are literal text). Outer whitespace
    of each channel is dropped (R1 writes ``"</think>\\n\\n"``).

    Rules:

    * ``<think>`` before any other non-whitespace text opens the thought;
      text up to the first ``</think>`` is reasoning, the rest is content.
    * ``reasoning_elsewhere=True`` (the server already sent reasoning in a
      field): the text is the answer. A leading ``<think>…</think>`` block or
      a leading ``</think>`` is still taken out (servers that duplicate or
      leak the tags); any later tag is literal answer text.
    * Otherwise text without an opening tag is streamed as **reasoning
      provisionally**: an unpaired ``</think>`` later confirms it (the output
      started inside the thought: R1-Distill templates, a prefill). Answer
      text is therefore never shown before it is known to be the answer.
    * At :meth:`flush`, a thought that no tag opened and no ``</think>``
      closed was the answer after all: its text is returned once more, as
      content, and :attr:`recovered` is set. The exception is
      ``starts_in_thought=True`` (the prompt opened the thought) with
      ``thought_cut_off=True`` (the token budget ended it): then it stays
      reasoning. A thought opened by ``<think>`` and never closed is always
      reasoning. An opening ``<think>`` after provisional text settles it
      the same way at once (the text was an answer that mentions the tag).

    The final :attr:`reasoning` / :attr:`content` do not depend on how the
    text was chunked; the streamed pieces of a channel concatenate to its
    final property, except that recovered text was streamed as reasoning.
    """

    def __init__(
        self, *, starts_in_thought: bool = False, reasoning_elsewhere: bool = False
    ) -> None:
        self._starts_in_thought = starts_in_thought
        self._reasoning_elsewhere = reasoning_elsewhere
        self._state = _State.START
        self._evidence = _Evidence.TAG
        self._pending = ""
        self._segment = Trimmer()
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._flushed = False
        self.saw_open_tag = False
        self.saw_close_tag = False
        self.recovered = False
        """Set by :meth:`flush` when provisional reasoning turned out to be the answer."""

    def feed(self, text: str) -> list[tuple[Channel, str]]:
        """Take the next chunk of model output; return the pieces ready to show."""
        if self._flushed:
            raise ValueError("ThinkSplitter.feed() called after flush()")
        self._pending += text
        out: list[tuple[Channel, str]] = []
        self._run(out, final=False)
        return out

    def flush(self, *, thought_cut_off: bool = False) -> list[tuple[Channel, str]]:
        """End the stream: release held-back text and settle an unconfirmed thought.

        ``thought_cut_off``: the output was cut off by the token limit
        (``finish_reason == "length"``).
        """
        if self._flushed:
            return []
        self._flushed = True
        out: list[tuple[Channel, str]] = []
        self._run(out, final=True)
        keep = self._evidence is _Evidence.TAG or (
            self._evidence is _Evidence.ASSUMED and thought_cut_off
        )
        if self._state is _State.THOUGHT and not keep:
            self._recover(out)
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
                elif self._reasoning_elsewhere and buf.startswith(CLOSE_TAG):
                    self._close()
                    buf = buf[len(CLOSE_TAG) :]
                elif buf and (final or not _could_be_leading_tag(buf, self._reasoning_elsewhere)):
                    if self._reasoning_elsewhere:
                        self._state = _State.ANSWER
                    else:
                        self._state = _State.THOUGHT
                        self._evidence = (
                            _Evidence.ASSUMED if self._starts_in_thought else _Evidence.PROVISIONAL
                        )
                else:
                    break
            elif state is _State.THOUGHT:
                end = buf.find(CLOSE_TAG)
                provisional = self._evidence is _Evidence.PROVISIONAL
                stop = end if end >= 0 else len(buf)
                literal = buf.find(OPEN_TAG, 0, stop) if provisional else -1
                if literal >= 0:
                    # An opening tag after text: this was answer text all along.
                    self._recover(out)
                    self._state = _State.ANSWER
                    self._emit("content", buf[: literal + len(OPEN_TAG)], out)
                    buf = buf[literal + len(OPEN_TAG) :]
                elif end < 0:
                    tags = (CLOSE_TAG, OPEN_TAG) if provisional else (CLOSE_TAG,)
                    cut = len(buf) if final else _partial_tag_start(buf, tags)
                    self._emit("reasoning", buf[:cut], out)
                    buf = buf[cut:]
                    break
                else:
                    self._emit("reasoning", buf[:end], out)
                    self._close()
                    buf = buf[end + len(CLOSE_TAG) :]
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

    def _recover(self, out: list[tuple[Channel, str]]) -> None:
        # The segment keeps its held whitespace: the same text continues, as content.
        self._content, self._reasoning = self._reasoning, []
        self.recovered = True
        if self._content:
            out.append(("content", "".join(self._content)))

    def _close(self) -> None:
        self.saw_close_tag = True
        self._state = _State.ANSWER
        self._segment = Trimmer()


def _could_be_leading_tag(buf: str, close_too: bool) -> bool:
    return OPEN_TAG.startswith(buf) or (close_too and CLOSE_TAG.startswith(buf))


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
    """Split a complete model output into ``(reasoning, content)``; see :class:`ThinkSplitter`.

    With ``starts_in_thought`` an unclosed thought is taken as cut off (reasoning).
    """
    splitter = ThinkSplitter(starts_in_thought=starts_in_thought)
    splitter.feed(text)
    splitter.flush(thought_cut_off=starts_in_thought)
    return splitter.reasoning, splitter.content
