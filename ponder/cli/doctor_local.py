"""``ponder doctor`` for the in-process local model: is it there, does it load, does it answer.

Used when no server is configured, i.e. when ``ponder run`` would use the
local model. It never downloads: a missing default model is reported with
what the first ``ponder run`` will fetch.
"""

from __future__ import annotations

import asyncio
import os
import time
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.cli._common import NO_BACKEND_HINT
from ponder.cli.doctor_probe import EXIT_OK, EXIT_UNUSABLE, EXIT_USAGE, Check, DoctorReport

if TYPE_CHECKING:
    from ponder.backends import ChatBackend

__all__ = ["diagnose_local"]

_PROBE_TOKENS = 64


def diagnose_local() -> DoctorReport:
    """Probe the local model ``ponder run`` would use, in this process."""
    from ponder.backends.local import (
        DEFAULT_MODEL,
        ENV_LOCAL_MODEL,
        default_local_backend,
    )
    from ponder.backends.local.download import cached_model_path

    checks: list[Check] = []
    if find_spec("llama_cpp") is None:
        checks.append(Check("engine", "fail", "llama-cpp-python is not installed"))
        return DoctorReport(
            "the in-process local model", "-", tuple(checks), EXIT_USAGE, NO_BACKEND_HINT
        )
    checks.append(Check("engine", "ok", "llama.cpp (pip install 'ponder[local]' is in place)"))
    configured = os.environ.get(ENV_LOCAL_MODEL, "").strip()
    path = Path(configured).expanduser() if configured else cached_model_path(DEFAULT_MODEL)
    target = f"the in-process local model {path.name}"
    if configured and not path.is_file():
        reason = f"{ENV_LOCAL_MODEL}={configured!r} is not a file; point it at a GGUF"
        checks.append(Check("model file", "fail", reason))
        return DoctorReport(target, "-", tuple(checks), EXIT_USAGE, reason)
    if not path.is_file():
        checks.append(
            Check(
                "model file",
                "warn",
                f"not downloaded yet: the first `ponder run` fetches {DEFAULT_MODEL.filename} "
                f"({DEFAULT_MODEL.size_hint}) into {path.parent}",
            )
        )
        note = "usable once the first `ponder run` has downloaded the model (a few minutes)"
        return DoctorReport(target, "llamacpp-local", tuple(checks), note=note)
    size_mb = path.stat().st_size / 1e6
    source = ENV_LOCAL_MODEL if configured else "the default model, cached"
    checks.append(Check("model file", "ok", f"{path} ({size_mb:,.0f} MB; {source})"))
    return asyncio.run(_probe(default_local_backend(), target, checks))


async def _probe(backend: ChatBackend, target: str, checks: list[Check]) -> DoctorReport:
    from ponder.backends.local import LocalModelError
    from ponder.backends.local.llamacpp import LlamaCppBackend

    assert isinstance(backend, LlamaCppBackend)
    started = time.perf_counter()
    try:
        await backend.load()
    except LocalModelError as exc:
        checks.append(Check("load", "fail", exc.message))
        return DoctorReport(target, backend.profile.name, tuple(checks), EXIT_UNUSABLE, exc.message)
    checks.append(Check("load", "ok", f"loaded in {time.perf_counter() - started:.1f} s"))
    checks += await _chat(backend)
    checks.append(
        Check(
            "tools and JSON",
            "ok",
            "tool calls as R1 raw tokens and JSON answers under a llama.cpp grammar, "
            "both handled by ponder",
        )
    )
    failed = next((c for c in checks if c.status == "fail"), None)
    if failed is not None:
        return DoctorReport(
            target, backend.profile.name, tuple(checks), EXIT_UNUSABLE, failed.detail
        )
    return DoctorReport(target, backend.profile.name, tuple(checks), EXIT_OK)


async def _chat(backend: ChatBackend) -> list[Check]:
    from ponder.backends import BackendError, ChatRequest, ReasoningBudgetExhausted, UserMessage

    request = ChatRequest(
        messages=(UserMessage(content="Reply with the single word: ok."),),
        max_tokens=_PROBE_TOKENS,
    )
    started = time.perf_counter()
    try:
        completion = await backend.complete(request)
    except ReasoningBudgetExhausted:
        seconds = time.perf_counter() - started
        detail = f"still thinking after {_PROBE_TOKENS} tokens ({seconds:.1f} s); it works"
        return [Check("chat", "ok", detail), Check("reasoning", "ok", "<think> split by ponder")]
    except BackendError as exc:
        return [Check("chat", "fail", exc.message)]
    seconds = time.perf_counter() - started
    usage = completion.usage
    prompt = f"{usage.prompt_tokens} prompt tokens, " if usage else ""
    tokens = usage.completion_tokens if usage else 0
    answered = f"answered in {seconds:.1f} s ({prompt}{tokens} generated)"
    reasoning = (
        Check("reasoning", "ok", "<think> split by ponder")
        if completion.reasoning
        else Check("reasoning", "warn", "none seen: this model may not think")
    )
    if not completion.content:
        return [Check("chat", "warn", f"empty answer after {seconds:.1f} s"), reasoning]
    return [Check("chat", "ok", answered), reasoning]
