"""``ponder fake-model`` / ``python -m ponder.testing``: the fake model server, for trying ponder.

It serves on a loopback port until Ctrl-C and prints the ``PONDER_*``
settings that point ``ponder run``, ``ponder chat``, ``ponder serve`` and the
examples at it. The "model" thinks a line, then answers by echoing the
question (or ``--answer``); asked for JSON, it answers a minimal instance of
the schema. It calls no tools: this is for trying the wiring offline, not
the model's skill.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from ponder.testing.fake_server import FakeModelServer
from ponder.testing.script import Turn

__all__ = ["PROVIDER_SHAPES", "add_arguments", "echo_turn", "main", "run"]

PROVIDER_SHAPES = (
    "vllm",
    "deepseek",
    "deepseek-r1",
    "sglang",
    "llamacpp",
    "ollama",
    "ollama-native",
    "openrouter",
)
"""Shapes that are also ``--provider`` names, so the printed settings name the provider."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ponder fake-model``."""
    parser.add_argument("--port", type=int, default=8765, help="loopback port (0: any free one)")
    parser.add_argument(
        "--shape",
        default="vllm",
        choices=PROVIDER_SHAPES,
        help="whose wire to speak (default vllm)",
    )
    parser.add_argument("--model", default="fake-r1", help="the model name it reports")
    parser.add_argument("--answer", default=None, help="always answer this (default: an echo)")


def echo_turn(body: dict[str, Any], *, answer: str | None = None) -> Turn:
    """The fake model's reply to one chat request."""
    question = _last_user_text(body)
    reasoning = f"The user asks: {question[:200]!r}. I am a fake model, so I echo it."
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return Turn(reasoning=reasoning, content=json.dumps(_instance(schema)))
    if "format" in body:  # Ollama's native API: "json" or a schema
        schema = body["format"] if isinstance(body["format"], dict) else {}
        return Turn(reasoning=reasoning, content=json.dumps(_instance(schema)))
    return Turn(reasoning=reasoning, content=answer or f"(fake model) You asked: {question}")


def run(port: int, shape: str, model: str, answer: str | None, out: Any = None) -> int:
    """Serve until SIGINT/SIGTERM; print the settings to use first."""
    out = out or sys.stdout
    stop = threading.Event()
    try:
        server = FakeModelServer(
            lambda body: echo_turn(body, answer=answer), shape=shape, model=model, port=port
        ).start()
    except RuntimeError as exc:
        cause = exc.__cause__ or exc
        print(f"ponder: the fake model cannot listen on port {port}: {cause}", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"fake model ({shape} wire) at {server.base_url}; Ctrl-C stops it. Use:", file=out)
    print(
        f"export PONDER_BASE_URL={server.base_url} PONDER_MODEL={model} "
        f"PONDER_PROVIDER={shape} PONDER_API_KEY=sk-fake",
        file=out,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ponder.testing [--port N] [--shape NAME] ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m ponder.testing", description="Serve the fake model on loopback."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.port, args.shape, args.model, args.answer)


def _last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                parts = [p.get("text", "") for p in content if isinstance(p, dict)]
                return " ".join(p for p in parts if isinstance(p, str))
    return ""


def _instance(schema: Any) -> Any:
    """A small value valid against common JSON Schemas (types, enums, required keys)."""
    if not isinstance(schema, dict):
        return {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _instance(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = schema.get("required") or list(props)
        return {name: _instance(props.get(name, {})) for name in required}
    if kind == "array":
        return [_instance(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    minimum = schema.get("minimum", 0)
    return {
        "string": "fake".ljust(schema.get("minLength", 0), "e"),
        "integer": int(minimum),
        "number": minimum,
        "boolean": False,
        "null": None,
    }.get(kind)
