"""Evaluated prompts of a llama.cpp model, kept on disk for the next process.

A second ``ponder run`` sends the same system prompt and tool schemas as the
first; evaluating them again is most of its wait on a CPU. After a prompt of
``min_new`` or more fresh tokens is evaluated, the context's state (its KV
cache, through llama.cpp's ``llama_state_save_file``) is saved under a folder
keyed by the model file; its tokens go beside it. A later prompt loads the
entry sharing the longest prefix with it and evaluates only the rest (the
KV cells past the shared prefix are dropped by the next evaluation).

Entries are written to a temporary name and renamed into place, so a reader
never sees half a file; at most ``keep`` entries per model stay, the least
recently used go first.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["PromptCache", "model_key"]

_STATE, _TOKENS = ".state", ".tokens"


def model_key(path: Path, n_ctx: int) -> str:
    """A folder name for one model file (path, size, mtime) and context size."""
    info = path.stat()
    text = f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}|{n_ctx}"
    return f"{path.stem[:40]}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class _Entry:
    state: Path
    tokens: list[int]


class PromptCache:
    """Saved prompt states of one model in ``folder`` (see the module docs)."""

    def __init__(self, folder: Path, *, min_new: int = 256, keep: int = 3) -> None:
        self.folder = folder
        self.min_new = min_new
        self.keep = keep

    def restore(self, llm: Llama, tokens: list[int], have: int) -> int:
        """Load the saved entry sharing the longest prefix with ``tokens``, if it beats ``have``.

        Returns how many leading tokens of ``tokens`` are now evaluated in ``llm``.
        """
        best: tuple[int, _Entry] | None = None
        for entry in self._entries():
            shared = _shared(entry.tokens, tokens)
            if shared > have and (best is None or shared > best[0]):
                best = (shared, entry)
        if best is None:
            return have
        shared, entry = best
        if not _load(llm, entry):
            return have
        with contextlib.suppress(OSError):
            os.utime(entry.state)  # recently used
        return shared

    def save(self, llm: Llama, tokens: list[int]) -> None:
        """Save ``llm``'s state, which holds exactly ``tokens`` evaluated."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(array.array("i", tokens).tobytes()).hexdigest()[:24]
        state, listing = self.folder / (name + _STATE), self.folder / (name + _TOKENS)
        if state.is_file():
            return
        tmp_state = state.with_name(f".{name}.{os.getpid()}{_STATE}")
        tmp_tokens = listing.with_name(f".{name}.{os.getpid()}{_TOKENS}")
        import llama_cpp

        buffer = (llama_cpp.llama_token * len(tokens))(*tokens)
        try:
            if not llama_cpp.llama_state_save_file(
                llm._ctx.ctx, str(tmp_state).encode(), buffer, len(tokens)
            ):
                return
            tmp_tokens.write_bytes(array.array("i", tokens).tobytes())
            os.replace(tmp_tokens, listing)  # the listing first: a state without one is ignored
            os.replace(tmp_state, state)
        except OSError:
            return
        finally:
            for leftover in (tmp_state, tmp_tokens):
                leftover.unlink(missing_ok=True)
        self._prune()

    def _entries(self) -> list[_Entry]:
        entries = []
        for state in self.folder.glob("*" + _STATE):
            if state.name.startswith("."):
                continue
            try:
                raw = state.with_suffix(_TOKENS).read_bytes()
            except OSError:
                continue
            tokens = array.array("i")
            tokens.frombytes(raw[: len(raw) - len(raw) % tokens.itemsize])
            entries.append(_Entry(state, tokens.tolist()))
        return entries

    def _prune(self) -> None:
        states = sorted(
            (p for p in self.folder.glob("*" + _STATE) if not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime_ns,
            reverse=True,
        )
        for old in states[self.keep :]:
            old.unlink(missing_ok=True)
            old.with_suffix(_TOKENS).unlink(missing_ok=True)


def _shared(a: list[int], b: list[int]) -> int:
    same = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        same += 1
    return same


def _load(llm: Llama, entry: _Entry) -> bool:
    import llama_cpp

    capacity = llm.n_ctx()
    out = (llama_cpp.llama_token * capacity)()
    count = ctypes.c_size_t(0)
    if not llama_cpp.llama_state_load_file(
        llm._ctx.ctx, str(entry.state).encode(), out, capacity, ctypes.byref(count)
    ):
        llm.n_tokens = 0  # the context may be half-loaded: evaluate from scratch
        return False
    loaded = list(out[: count.value])
    if loaded != entry.tokens:
        llm.n_tokens = 0
        return False
    llm.input_ids[: len(loaded)] = loaded
    llm.n_tokens = len(loaded)
    return True
