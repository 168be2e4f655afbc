"""The prompt cache across real processes, and the progress line, on the tiny R1 model.

Greedy decoding makes the check exact: an answer generated on a restored
state must equal the answer generated from scratch.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.backends.local.progress import Progress

pytestmark = pytest.mark.local_engine

SYSTEM = "You are a careful assistant. " + "Follow the house rules. " * 80

CHILD = """
import asyncio, json, sys
from pathlib import Path
from ponder.backends import ChatRequest, SystemMessage, UserMessage
from ponder.backends.local.llamacpp import LlamaCppBackend

model, cache, system, question = sys.argv[1:5]
backend = LlamaCppBackend(model, n_ctx=2048, prompt_cache=Path(cache) if cache else None)
request = ChatRequest(
    messages=(SystemMessage(content=system), UserMessage(content=question)),
    max_tokens=12, temperature=0.0,
)
completion = asyncio.run(backend.complete(request))
usage = completion.usage
print(json.dumps({"text": completion.reasoning + "|" + completion.content,
                  "prompt": usage.prompt_tokens, "cached": usage.cached_tokens}))
"""


def _ask(model: Path, cache: Path | None, question: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(model), str(cache or ""), SYSTEM, question],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal: no progress lines
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_a_second_process_reuses_the_saved_prompt_and_a_damaged_one_is_ignored(
    tiny_r1_path: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "prompts"
    first = _ask(tiny_r1_path, cache, "What is 2+3?")
    assert first["cached"] == 0
    (state,) = cache.glob("*/*.state")  # one folder per model, one entry
    second = _ask(tiny_r1_path, cache, "What is 7*6?")
    fresh = _ask(tiny_r1_path, None, "What is 7*6?")
    assert isinstance(second["cached"], int) and isinstance(second["prompt"], int)
    assert second["cached"] > 0.9 * second["prompt"]  # the system prompt was not read again
    assert second["text"] == fresh["text"]  # the restored state is the same state
    assert fresh["cached"] == 0
    state.write_bytes(b"not a llama.cpp state file")
    damaged = _ask(tiny_r1_path, cache, "What is 7*6?")
    assert damaged["cached"] == 0  # read afresh, not trusted
    assert damaged["text"] == fresh["text"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_clears_the_line() -> None:
    out = _Terminal()
    progress = Progress(out, "reading the prompt", 2746, "tokens")
    progress.update(128)
    progress.done()
    text = out.getvalue()
    assert "\rreading the prompt 128/2,746 tokens" in text.replace("\x1b[2K", "")
    assert text.endswith("\r\x1b[2K")


def test_progress_writes_nothing_where_it_is_not_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(out, "reading the prompt", 10, "tokens")
    progress.update(5)
    progress.done()
    assert out.getvalue() == ""
