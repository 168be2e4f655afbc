"""``TransformersBackend``: a Hugging Face model folder run in-process (``[gpu]`` extra).

The model and tokenizer load from a local folder only (``local_files_only``:
nothing is ever downloaded), onto the device :func:`select_device` picks
(CUDA, then Apple MPS, then CPU) unless one is named. The prompt is the
tokenizer's own chat template rendered by
:class:`~ponder.backends.local.template.ChatTemplate`, with the same R1
tool section and forced ``<think>\\n`` as the llama.cpp engine, and the
generated text streams through the same think splitter and R1 tool-call
parser as every other backend.

Sharing: a folder is loaded once per process (keyed by path, device and
dtype) and shared by every backend that names it. Generations on one model
are **serialised** by a lock: concurrent runs queue, each waiting off the
event loop and giving up its place when cancelled. ``model.generate`` runs
on a worker thread; a stopping criterion checks the stop flag after every
token, so a cancelled run ends within one token (the prompt's forward pass
itself cannot be interrupted).

JSON mode is **prompting plus local validation**, with no grammar: the
template asks for JSON (and names the schema), the answer is held back
until it is complete, and the first JSON value in it that is an object and
valid against the schema becomes the content (code fences and stray prose
dropped). When there is none, the raw answer is passed on unchanged for the
caller's own check to reject. ``tool_choice`` is likewise by prompting only.
Seeds use torch's global generator, reseeded under the model's lock.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import jsonschema

from ponder.backends.errors import ContextLengthError
from ponder.backends.local._engine import (
    Emit,
    GenerationStats,
    LocalBackend,
    StopMatcher,
    local_profile,
    stream_work,
)
from ponder.backends.local.download import LocalModelError
from ponder.backends.local.template import ChatTemplate, Thinking
from ponder.backends.types import (
    ChatRequest,
    Completed,
    ContentDelta,
    ResponseFormat,
    StreamEvent,
)

if TYPE_CHECKING:
    import torch
    from transformers import GenerationConfig, PretrainedConfig, PreTrainedTokenizerBase

__all__ = ["TransformersBackend", "select_device"]

DType = Literal["float32", "float16", "bfloat16"]

_LOCK_POLL_S = 0.05
_DEFAULT_CONTEXT = 4096


class _CausalLM(Protocol):
    """What ponder uses of a transformers causal language model."""

    config: PretrainedConfig
    generation_config: GenerationConfig

    def generate(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class _Key:
    path: str
    device: str
    dtype: str


@dataclass
class _Shared:
    model: _CausalLM
    tokenizer: PreTrainedTokenizerBase
    lock: threading.Lock
    template: ChatTemplate
    device: str


_MODELS: dict[_Key, _Shared] = {}
_MODELS_LOCK = threading.Lock()


def select_device(requested: str | None = None) -> str:
    """The device to run on: ``requested`` if given, else CUDA, then MPS, then CPU.

    ``requested`` may carry an index (``"cuda:1"``); it is returned as given.
    Raises :class:`LocalModelError` when the requested device is not available.
    """
    import torch

    if requested is None:
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = requested.split(":", 1)[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise LocalModelError(f"device {requested!r} was asked for but CUDA is not available")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise LocalModelError(f"device {requested!r} was asked for but MPS is not available")
    if kind not in ("cuda", "mps", "cpu"):
        raise ValueError(
            f"device must be cuda, mps or cpu (with an optional index), not {requested!r}"
        )
    return requested


class TransformersBackend(LocalBackend):
    """A :class:`~ponder.backends.protocol.ChatBackend` over an in-process transformers model.

    ``model_path`` is a folder holding a causal LM and its tokenizer (as
    ``save_pretrained`` writes them). ``device`` overrides
    :func:`select_device`; ``dtype`` defaults to bfloat16 on CUDA (float16
    where bf16 is unsupported), float16 on MPS and float32 on CPU.
    ``chat_template`` overrides the tokenizer's; ``thinking`` decides when
    ``<think>\\n`` is forced (see :class:`~ponder.backends.local.template.ChatTemplate`).
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        device: str | None = None,
        dtype: DType | None = None,
        chat_template: str | None = None,
        thinking: Thinking = "auto",
        name: str | None = None,
    ) -> None:
        _require_transformers()
        self._path = Path(model_path)
        if not self._path.is_dir():
            raise LocalModelError(f"no model folder at {self._path}")
        self._device = select_device(device)
        self._dtype: DType = dtype or _default_dtype(self._device)
        self._chat_template = chat_template
        self._thinking: Thinking = thinking
        self._name = name or self._path.name
        self._profile = local_profile("transformers-local")
        self._shared: _Shared | None = None

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return self._device

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Reasoning, content and tool-call deltas as the model writes them, then ``Completed``.

        In JSON mode the content arrives in one piece, after validation.
        """
        shared = await asyncio.to_thread(self._load)
        prompt = shared.template.render(request)

        def work(emit: Emit, stop: threading.Event) -> GenerationStats:
            return _generate(shared, prompt.text, request, emit, stop)

        events: AsyncIterator[StreamEvent] = stream_work(
            work,
            profile=self._profile,
            starts_in_thought=prompt.starts_in_thought,
            model=self._name,
        )
        fmt = request.response_format
        if fmt is not None and fmt.type != "text":
            events = _validated_json(events, fmt)
        try:
            async for event in events:
                yield event
        finally:  # stop the generation now, not when the inner generator is collected
            await _aclose(events)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self._name!r}, device={self._device!r})"

    # -- loading

    def _load(self) -> _Shared:
        if self._shared is not None:
            return self._shared
        key = _Key(str(self._path.resolve()), self._device, self._dtype)
        with _MODELS_LOCK:
            shared = _MODELS.get(key)
            if shared is None:
                shared = _MODELS[key] = _open(key, self._chat_template, self._thinking)
        if self._chat_template is not None or self._thinking != "auto":
            template = _template(shared.tokenizer, self._chat_template, self._thinking)
            shared = _Shared(shared.model, shared.tokenizer, shared.lock, template, shared.device)
        self._shared = shared
        return shared


def _require_transformers() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise LocalModelError(
            "the transformers engine is not installed: pip install 'ponder[gpu]'"
        ) from None


def _default_dtype(device: str) -> DType:
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float16" if device.startswith("mps") else "float32"


def _open(key: _Key, chat_template: str | None, thinking: Thinking) -> _Shared:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # transformers 4.56 renamed ``torch_dtype`` to ``dtype``.
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    dtype_arg = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    try:
        tokenizer = AutoTokenizer.from_pretrained(key.path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            key.path, local_files_only=True, **{dtype_arg: getattr(torch, key.dtype)}
        )
    except (OSError, ValueError) as exc:
        raise LocalModelError(f"transformers could not load {key.path}: {exc}") from None
    model.to(key.device)  # type: ignore[arg-type]  # transformers types its wrapped .to wrongly
    return _Shared(
        cast(_CausalLM, model),
        tokenizer,
        threading.Lock(),
        _template(tokenizer, chat_template, thinking),
        key.device,
    )


def _template(
    tokenizer: PreTrainedTokenizerBase, source: str | None, thinking: Thinking
) -> ChatTemplate:
    source = source or tokenizer.chat_template
    if not isinstance(source, str) or not source:
        raise LocalModelError("the tokenizer has no (single) chat template; pass chat_template=")
    return ChatTemplate(
        source,
        bos_token=_token_text(tokenizer.bos_token),
        eos_token=_token_text(tokenizer.eos_token),
        thinking=thinking,
    )


def _token_text(token: object) -> str:
    return token if isinstance(token, str) else ""


def _generate(
    shared: _Shared, text: str, request: ChatRequest, emit: Emit, stop: threading.Event
) -> GenerationStats:
    """Blocking generation on the worker thread, holding the model's lock."""
    while not shared.lock.acquire(timeout=_LOCK_POLL_S):
        if stop.is_set():
            return GenerationStats("stop", 0, 0)
    try:
        return _run(shared, text, request, emit, stop)
    finally:
        shared.lock.release()


def _run(
    shared: _Shared, text: str, request: ChatRequest, emit: Emit, stop: threading.Event
) -> GenerationStats:
    import torch
    from transformers import StoppingCriteriaList

    model, tokenizer = shared.model, shared.tokenizer
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    ids = ids.to(shared.device)
    prompt_tokens = int(ids.shape[1])
    n_ctx = _context_length(model)
    room = n_ctx - prompt_tokens
    if room <= 0:
        raise ContextLengthError(
            f"the prompt has {prompt_tokens} tokens; the context holds {n_ctx}"
        )
    budget = min(request.max_tokens or room, room)
    config = copy.deepcopy(model.generation_config)
    eos = _eos_ids(config.eos_token_id, tokenizer.eos_token_id)
    temperature = 0.6 if request.temperature is None else request.temperature
    sampled = temperature > 0
    config.max_new_tokens = budget
    config.do_sample = sampled
    # Greedy decoding gets the neutral values, so transformers warns about none of them.
    config.temperature = temperature if sampled else 1.0
    config.top_p = (0.95 if request.top_p is None else request.top_p) if sampled else 1.0
    config.top_k = None if sampled else 50
    config.eos_token_id = sorted(eos) or None
    if config.pad_token_id is None:
        config.pad_token_id = min(eos, default=0)
    streamer = _PieceStreamer(tokenizer, emit, StopMatcher(request.stop), eos, stop)
    if request.seed is not None:
        torch.manual_seed(request.seed)
    with torch.inference_mode():
        model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            generation_config=config,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_StopWhen(streamer)]),
        )
    streamer.finish()
    length = streamer.generated >= budget and not (streamer.ended or streamer.halted)
    return GenerationStats("length" if length else "stop", prompt_tokens, streamer.generated)


def _context_length(model: _CausalLM) -> int:
    value = getattr(model.config, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else _DEFAULT_CONTEXT


def _eos_ids(configured: int | list[int] | None, tokenizer_eos: int | None) -> set[int]:
    ids = set(configured if isinstance(configured, list) else [configured])
    ids.add(tokenizer_eos)
    return {i for i in ids if i is not None}


class _PieceStreamer:
    """A transformers streamer: generated token ids in, text pieces out through ``emit``.

    Decodes incrementally over a sliding window (so multi-token characters
    and leading spaces come out right), keeps special tokens (``<think>``,
    R1's tool tokens) in the text, drops end-of-sequence tokens, and cuts
    at the request's stop strings.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        emit: Emit,
        matcher: StopMatcher,
        eos: set[int],
        stop: threading.Event,
    ) -> None:
        self._tokenizer = tokenizer
        self._emit = emit
        self._matcher = matcher
        self._eos = eos
        self._stop = stop
        self._tokens: list[int] = []
        self._prefix = 0
        self._read = 0
        self._prompt_seen = False
        self.generated = 0
        self.ended = False
        """An end-of-sequence token was generated."""

    @property
    def halted(self) -> bool:
        """Cancelled, or a stop string was reached: generation should end now."""
        return self._stop.is_set() or self._matcher.stopped

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() passes the prompt first
            self._prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self._add(int(token))

    def end(self) -> None:
        """Called by ``generate`` when it returns; :meth:`finish` does the flushing."""

    def finish(self) -> None:
        """Emit what is held back, unless the run was cancelled."""
        if self._stop.is_set():
            return
        tail = self._matcher.flush()
        if tail:
            self._emit(tail)

    def _add(self, token: int) -> None:
        if self.ended or self.halted:
            return
        self.generated += 1
        if token in self._eos:
            self.ended = True
            return
        self._tokens.append(token)
        before = self._decode(self._tokens[self._prefix : self._read])
        text = self._decode(self._tokens[self._prefix :])
        if len(text) <= len(before) or text.endswith("\ufffd"):
            return  # an incomplete character: wait for the next token
        self._prefix, self._read = self._read, len(self._tokens)
        safe = self._matcher.feed(text[len(before) :])
        if safe:
            self._emit(safe)

    def _decode(self, tokens: list[int]) -> str:
        if not tokens:
            return ""
        text = self._tokenizer.decode(
            tokens, skip_special_tokens=False, clean_up_tokenization_spaces=False
        )
        return text if isinstance(text, str) else ""


class _StopWhen:
    """A stopping criterion: end every sequence once the streamer is halted."""

    def __init__(self, streamer: _PieceStreamer) -> None:
        self._streamer = streamer

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        import torch

        return torch.full(
            (input_ids.shape[0],), self._streamer.halted, dtype=torch.bool, device=input_ids.device
        )


async def _validated_json(
    events: AsyncIterator[StreamEvent], fmt: ResponseFormat
) -> AsyncIterator[StreamEvent]:
    """Hold the answer back, then pass on its valid JSON (or the raw answer)."""
    schema = fmt.json_schema if fmt.type == "json_schema" else None
    try:
        async for event in events:
            if isinstance(event, ContentDelta):
                continue
            if isinstance(event, Completed):
                raw = event.completion.content
                content = _json_in(raw, schema) or raw
                if content:
                    yield ContentDelta(text=content)
                update = {"content": content}
                event = Completed(completion=event.completion.model_copy(update=update))
            yield event
    finally:
        await _aclose(events)


async def _aclose(events: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


def _json_in(text: str, schema: dict[str, Any] | None) -> str | None:
    """The first top-level JSON object in ``text`` (valid against ``schema``), as written."""
    decoder = json.JSONDecoder()
    validator = jsonschema.Draft202012Validator(schema) if schema is not None else None
    start = text.find("{")
    while start >= 0:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict) and (validator is None or validator.is_valid(value)):
            return text[start:end]
        start = text.find("{", end)  # never a value nested in one already rejected
    return None
