"""``LlamaCppBackend``: a GGUF model run in-process by llama-cpp-python (``[local]`` extra).

Sharing: a model file is loaded once per process (keyed by path and load
options) and shared by every backend that names it. A llama.cpp context is
not thread-safe, so generations on one model are **serialised** by a lock:
concurrent runs queue, each waiting off the event loop and giving up its
place when cancelled. Generation runs on a worker thread; the stop flag is
checked before every token, so a cancelled run stops within one token (the
prompt is evaluated in chunks for the same reason).

JSON mode uses llama.cpp's JSON-schema grammar on the **answer only**: when
the prompt opened a thought, the thought is generated unconstrained until
``</think>``, then generation continues under the grammar. A named
``tool_choice`` works the same way: after the thought the R1 tool-call
opener is written for the model and the arguments follow the tool's schema.
"""

from __future__ import annotations

import asyncio
import atexit
import codecs
import json
import os
import sys
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ponder.backends.errors import ContextLengthError
from ponder.backends.local._engine import (
    Emit,
    GenerationStats,
    LocalBackend,
    StopMatcher,
    local_profile,
    stream_work,
)
from ponder.backends.local.download import LocalModelError, ModelFile, ensure_model
from ponder.backends.local.llamacpp_amx import model_params_without_amx
from ponder.backends.local.progress import Progress
from ponder.backends.local.prompt_cache import PromptCache, model_key
from ponder.backends.local.template import ChatTemplate, Thinking
from ponder.backends.types import (
    ChatRequest,
    NamedToolChoice,
    ResponseFormat,
    StreamEvent,
    ToolSpec,
)

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

__all__ = ["LlamaCppBackend"]

_CLOSE = "</think>"
_PROMPT_CHUNK = 128
_LOCK_POLL_S = 0.05
_CALL_OPEN = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```json\n"
_CALL_CLOSE = "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"


@dataclass(frozen=True)
class _Key:
    path: str
    n_ctx: int
    n_gpu_layers: int
    n_threads: int | None


@dataclass
class _Shared:
    llm: Llama
    lock: threading.Lock
    template: ChatTemplate


_MODELS: dict[_Key, _Shared] = {}
_MODELS_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free the shared models while llama.cpp is still loaded.

    Left to ``Llama.__del__`` at interpreter exit, freeing runs after the
    library's globals are gone and prints an ignored TypeError.
    """
    with _MODELS_LOCK:
        while _MODELS:
            _, shared = _MODELS.popitem()
            shared.llm.close()


@dataclass(frozen=True)
class _Answer:
    """How the answer after the thought is produced: forced text around a grammar."""

    grammar: LlamaGrammar | None = None
    prefix: str = ""
    suffix: str = ""


class LlamaCppBackend(LocalBackend):
    """A :class:`~ponder.backends.protocol.ChatBackend` over an in-process llama.cpp model.

    Give ``model_path`` (a GGUF file) or ``model_file`` (a Hugging Face repo
    and file, downloaded once into ``cache_dir``). ``chat_template`` overrides
    the template in the GGUF header; ``thinking`` decides when ``<think>\\n``
    is forced (see :class:`~ponder.backends.local.template.ChatTemplate`).
    ``prompt_cache`` is a folder where evaluated prompts are kept for later
    processes (see :mod:`~ponder.backends.local.prompt_cache`; ``None``: only
    this process reuses them). ``progress`` shows loading and prompt reading
    when it is a terminal.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        model_file: ModelFile | None = None,
        cache_dir: Path | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_template: str | None = None,
        thinking: Thinking = "auto",
        name: str | None = None,
        prompt_cache: Path | None = None,
        progress: TextIO | None = sys.stderr,
    ) -> None:
        if (model_path is None) == (model_file is None):
            raise ValueError("give exactly one of model_path= or model_file=")
        _require_llama_cpp()
        self._path = Path(model_path) if model_path is not None else None
        if self._path is not None and not self._path.is_file():
            raise LocalModelError(f"no model file at {self._path}")
        self._model_file = model_file
        self._cache_dir = cache_dir
        self._options = (n_ctx, n_gpu_layers, n_threads)
        self._chat_template = chat_template
        self._thinking: Thinking = thinking
        self._name = name or (self._path.name if self._path else model_file.filename)  # type: ignore[union-attr]
        self._profile = local_profile("llamacpp-local")
        self._shared: _Shared | None = None
        self._prompt_cache_dir = prompt_cache
        self._prompt_cache: PromptCache | None = None
        self._progress = progress

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Reasoning, content and tool-call deltas as the model writes them, then ``Completed``."""
        shared = await asyncio.to_thread(self._load)
        prompt = shared.template.render(request)
        answer = _answer_plan(request)
        opened = prompt.starts_in_thought

        cache, progress = self._prompt_cache, self._progress

        def work(emit: Emit, stop: threading.Event) -> GenerationStats:
            run = _Run(shared.llm, request, answer, emit, stop, cache=cache, progress=progress)
            return _generate(shared, run, prompt.text, opened, stop)

        events = stream_work(
            work, profile=self._profile, starts_in_thought=opened, model=self._name
        )
        async with aclosing(events):  # closing this stream stops generation at once
            async for event in events:
                yield event

    # -- loading

    def _load(self) -> _Shared:
        if self._shared is not None:
            return self._shared
        path = self._path
        if path is None:
            assert self._model_file is not None
            path = ensure_model(self._model_file, cache_dir=self._cache_dir)
        n_ctx, n_gpu_layers, n_threads = self._options
        key = _Key(str(path.resolve()), n_ctx, n_gpu_layers, n_threads)
        with _MODELS_LOCK:
            shared = _MODELS.get(key)
            if shared is None:
                shared = _MODELS[key] = _open(
                    key, self._chat_template, self._thinking, self._progress
                )
        if self._prompt_cache_dir is not None:
            self._prompt_cache = PromptCache(self._prompt_cache_dir / model_key(path, n_ctx))
        if self._chat_template is not None or self._thinking != "auto":
            shared = _Shared(
                shared.llm, shared.lock, _template(shared.llm, self._chat_template, self._thinking)
            )
        self._shared = shared
        return shared


def _require_llama_cpp() -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise LocalModelError(
            "the llama.cpp engine is not installed: pip install 'ponder[local]'"
        ) from None


def _open(key: _Key, chat_template: str | None, thinking: Thinking, out: TextIO | None) -> _Shared:
    from llama_cpp import Llama

    size_mb = os.path.getsize(key.path) / 1e6
    progress = Progress(out, f"loading {os.path.basename(key.path)} ({size_mb:,.0f} MB)")
    loaded = threading.Event()

    def tick() -> None:  # the load is one blocking call: keep the elapsed time moving
        while not loaded.wait(0.25):
            progress.update(0)

    ticker = threading.Thread(target=tick, name="ponder-load-progress", daemon=True)
    ticker.start()
    try:
        with model_params_without_amx():  # some VMs advertise AMX and fault on it
            llm = Llama(
                key.path,
                n_ctx=key.n_ctx,
                n_gpu_layers=key.n_gpu_layers,
                n_threads=key.n_threads,
                verbose=False,
            )
    except (ValueError, RuntimeError) as exc:
        raise LocalModelError(f"llama.cpp could not load {key.path}: {exc}") from None
    finally:
        loaded.set()
        ticker.join()
        progress.done()
    return _Shared(llm, threading.Lock(), _template(llm, chat_template, thinking))


def _template(llm: Llama, source: str | None, thinking: Thinking) -> ChatTemplate:
    source = source or llm.metadata.get("tokenizer.chat_template")
    if not source:
        raise LocalModelError("the GGUF has no chat template; pass chat_template=")

    def piece(token: int) -> str:
        return (
            llm.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""
        )

    return ChatTemplate(
        source,
        bos_token=piece(llm.token_bos()),
        eos_token=piece(llm.token_eos()),
        thinking=thinking,
    )


def _answer_plan(request: ChatRequest) -> _Answer:
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice) and request.tools:
        spec = _find_tool(request.tools, choice.name)
        return _Answer(
            grammar=LlamaGrammar.from_json_schema(json.dumps(spec.parameters), verbose=False),
            prefix=_CALL_OPEN.format(name=spec.name),
            suffix=_CALL_CLOSE,
        )
    fmt: ResponseFormat | None = request.response_format
    if fmt is None or fmt.type == "text":
        return _Answer()
    if fmt.type == "json_schema" and fmt.json_schema is not None:
        grammar = LlamaGrammar.from_json_schema(json.dumps(fmt.json_schema), verbose=False)
    else:
        grammar = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    return _Answer(grammar=grammar)


def _find_tool(tools: Sequence[ToolSpec], name: str) -> ToolSpec:
    for spec in tools:
        if spec.name == name:
            return spec
    raise ValueError(f"tool_choice names {name!r}, which is not among the request's tools")


def _generate(
    shared: _Shared, run: _Run, text: str, opened: bool, stop: threading.Event
) -> GenerationStats:
    """Blocking generation on the worker thread, holding the model's lock."""
    while not shared.lock.acquire(timeout=_LOCK_POLL_S):
        if stop.is_set():
            return GenerationStats("stop", 0, 0)
    try:
        return run.run(text, in_thought=opened)
    finally:
        shared.lock.release()


class _Run:
    """One generation: prompt, optional thought, then the answer (maybe constrained)."""

    def __init__(
        self,
        llm: Llama,
        request: ChatRequest,
        answer: _Answer,
        emit: Emit,
        stop: threading.Event,
        *,
        cache: PromptCache | None = None,
        progress: TextIO | None = None,
    ) -> None:
        import llama_cpp

        self._llm = llm
        self._request = request
        self._answer = answer
        self._emit = emit
        self._stop = stop
        self._matcher = StopMatcher(request.stop)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._generated = 0
        self._cache = cache
        self._progress = progress
        self.reused = 0
        """Prompt tokens not evaluated again (this process's or the disk cache's)."""
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._vocab = vocab

    def _is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def run(self, text: str, *, in_thought: bool) -> GenerationStats:
        llm = self._llm
        tokens = self._tokenize(text, bos=True)
        prompt_tokens = len(tokens)
        # llama.cpp may round the context up; the token buffer keeps the size asked for.
        n_ctx = min(llm.n_ctx(), len(llm.input_ids))
        room = n_ctx - prompt_tokens
        if room <= 0:
            raise ContextLengthError(
                f"the prompt has {prompt_tokens} tokens; the context holds {n_ctx}"
            )
        budget = min(self._request.max_tokens or room, room)
        if self._request.seed is not None:
            llm.set_seed(self._request.seed)
        if not self._evaluate_prompt(tokens):
            return GenerationStats("stop", prompt_tokens, 0)
        constrained = self._answer.grammar is not None or bool(self._answer.prefix)
        finish = "stop"
        if in_thought and constrained:
            finish = self._sample(tokens, budget, grammar=None, until_close=True)
        if finish == "thought_closed" or (not in_thought and constrained):
            if in_thought:
                tokens += self._tokenize("\n\n", bos=False)
            finish = self._constrained(tokens, budget)
        elif not constrained:
            finish = self._sample(tokens, budget, grammar=None, until_close=False)
        tail = self._matcher.flush() + self._decoder.decode(b"", final=True)
        if tail and finish != "cancelled":
            self._emit(tail)
        return GenerationStats(
            "length" if finish == "length" else "stop",
            prompt_tokens,
            self._generated,
            cached_tokens=self.reused,
        )

    def _constrained(self, tokens: list[int], budget: int) -> str:
        if self._answer.prefix:
            self._emit(self._answer.prefix)
            tokens += self._tokenize(self._answer.prefix, bos=False)
        finish = self._sample(tokens, budget, grammar=self._answer.grammar, until_close=False)
        if finish == "stop" and self._answer.suffix:
            self._emit(self._answer.suffix)
        return finish

    def _sample(
        self, tokens: list[int], budget: int, *, grammar: LlamaGrammar | None, until_close: bool
    ) -> str:
        """Sample into ``tokens``; returns stop, length, cancelled or thought_closed."""
        request = self._request
        window = ""
        for token in self._llm.generate(
            tokens,
            temp=0.6 if request.temperature is None else request.temperature,
            top_p=0.95 if request.top_p is None else request.top_p,
            grammar=grammar,
        ):
            if self._stop.is_set():
                return "cancelled"
            if self._is_eog(token):
                return "stop"
            tokens.append(token)
            self._generated += 1
            piece = self._decoder.decode(self._llm.detokenize([token], special=True))
            safe = self._matcher.feed(piece)
            if safe:
                self._emit(safe)
            if self._matcher.stopped:
                return "stop"
            if self._generated >= budget:
                return "length"
            if until_close:
                window = (window + piece)[-64:]
                if _CLOSE in window:
                    return "thought_closed"
        return "stop"

    def _evaluate_prompt(self, tokens: list[int]) -> bool:
        """Evaluate all but the last prompt token in chunks, reusing a cached prefix.

        The prefix comes from this context (an earlier call in this process)
        or from the disk cache, whichever is longer. Returns False when
        stopped midway. ``generate`` then finds the prefix evaluated and
        evaluates only the last token.
        """
        llm = self._llm
        head = tokens[:-1]
        cached = llm._input_ids.tolist()
        same = 0
        for a, b in zip(cached, head, strict=False):
            if a != b:
                break
            same += 1
        if self._cache is not None and len(head) - same >= self._cache.min_new:
            same = self._cache.restore(llm, head, same)
        llm.n_tokens = same
        self.reused = same
        progress = Progress(self._progress, "reading the prompt", len(head), "tokens")
        try:
            for start in range(same, len(head), _PROMPT_CHUNK):
                if self._stop.is_set():
                    return False
                progress.update(start)
                llm.eval(head[start : start + _PROMPT_CHUNK])
        finally:
            progress.done()
        if self._cache is not None and len(head) - same >= self._cache.min_new:
            self._cache.save(llm, head)
        return not self._stop.is_set()

    def _tokenize(self, text: str, *, bos: bool) -> list[int]:
        llm = self._llm
        add_bos = bos and llm._model.add_bos_token() and not _starts_with_bos(llm, text)
        return llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)


def _starts_with_bos(llm: Llama, text: str) -> bool:
    bos = llm.token_bos()
    return bos >= 0 and text.startswith(
        llm.detokenize([bos], special=True).decode("utf-8", "replace")
    )
