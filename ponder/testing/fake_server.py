"""A fake reasoning-model server on loopback that speaks each provider's real wire.

Tests script what the "model" does per request (:class:`Turn`), point any
HTTP client at :attr:`FakeModelServer.base_url`, and read back what was sent
(:attr:`FakeModelServer.requests`). The server runs its own asyncio loop in a
background thread, so sync tests, async tests and subprocesses can all use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ponder.testing._http import (
    BadRequest,
    HttpRequest,
    Responder,
    dumps,
    read_request,
    set_nodelay,
)
from ponder.testing.error_bodies import auth_error_body, error_body
from ponder.testing.rules import check_request
from ponder.testing.script import RecordedRequest, Script, Turn
from ponder.testing.shapes import (
    SHAPE_NAMES,
    SHAPES,
    Reply,
    Shape,
    chat_chunks,
    chat_completion,
    ollama_chat_lines,
    ollama_chat_response,
    ollama_timestamp,
    stream_error_event,
)

__all__ = ["FakeModelServer"]

_REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})
_REDACTED = "[REDACTED]"


class _ScriptError(Exception):
    """The script has no turn for this request, or raised."""


class FakeModelServer:
    """An OpenAI-compatible (and Ollama-native) fake model server on 127.0.0.1.

    ``shape`` picks the provider whose wire is spoken (see ``SHAPE_NAMES``);
    ``api_key`` makes a missing or wrong ``Authorization: Bearer`` a 401;
    ``enforce_rules`` answers requests the real provider rejects with its 400;
    ``port`` 0 takes any free port.
    """

    def __init__(
        self,
        script: Script,
        *,
        shape: str = "deepseek",
        api_key: str | None = None,
        enforce_rules: bool = True,
        model: str = "fake-r1",
        port: int = 0,
    ) -> None:
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; choose one of: {', '.join(SHAPE_NAMES)}")
        self.shape = SHAPES[shape]
        # Ollama serves /v1 and /api side by side, whichever shape the test picked.
        self._ollama = shape in ("ollama", "ollama-native")
        self._v1_shape = SHAPES["ollama"] if self._ollama else self.shape
        self.model = model
        self.enforce_rules = enforce_rules
        self.requests: list[RecordedRequest] = []
        self._script = script
        self._next_turn = 0
        self._api_key = api_key
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._wanted_port = port
        self._connections: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        where = self.base_url if self._port else "not started"
        return f"FakeModelServer(shape={self.shape.name!r}, {where})"

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (no ``/v1`` for the ollama-native shape)."""
        if self._port is None:
            raise RuntimeError("FakeModelServer is not running; use it as a context manager")
        root = f"http://127.0.0.1:{self._port}"
        return root if self.shape.native_ollama else f"{root}/v1"

    def start(self) -> FakeModelServer:
        """Start serving in a background thread; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("FakeModelServer is already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(loop, ready, failure), name="FakeModelServer", daemon=True
        )
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise RuntimeError("FakeModelServer could not start") from failure[0]
        self._loop, self._thread = loop, thread
        return self

    def close(self) -> None:
        """Stop serving, cut open connections and join the thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._port = None

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> FakeModelServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    def _run(
        self, loop: asyncio.AbstractEventLoop, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(
                asyncio.start_server(
                    self._serve_connection, "127.0.0.1", self._wanted_port, backlog=4096
                )
            )
        except OSError as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        self._port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in self._connections:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*self._connections, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    # ------------------------------------------------------------ connections

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        set_nodelay(writer)
        try:
            while True:
                try:
                    request = await read_request(reader)
                except BadRequest as exc:
                    responder = Responder(writer, keep_alive=False)
                    await responder.send(exc.status, str(exc).encode(), content_type="text/plain")
                    break
                if request is None:
                    break
                responder = Responder(writer, keep_alive=request.keep_alive)
                await self._dispatch(request, responder)
                if not responder.keep_alive:
                    break
        except (ConnectionError, asyncio.CancelledError):
            # The client went away, or close() cancelled us: either way the
            # connection just ends. (Re-raising the cancel makes Python 3.11's
            # start_server callback log a traceback per open connection.)
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _dispatch(self, request: HttpRequest, responder: Responder) -> None:
        body = request.json()
        self.requests.append(
            RecordedRequest(
                received_at=time.time(),
                method=request.method,
                path=request.path,
                headers={
                    k: (_redact(v) if k in _REDACTED_HEADERS else v)
                    for k, v in request.headers.items()
                },
                body=body if isinstance(body, dict) else None,
            )
        )
        native = self._ollama and not request.path.startswith("/v1/")
        shape = SHAPES["ollama-native"] if native else self._v1_shape
        style = shape.error_style
        if self._api_key is not None:
            presented = _bearer(request.headers.get("authorization", ""))
            if presented != self._api_key:
                await responder.send_json(401, auth_error_body(style, presented))
                return
        routes: dict[tuple[str, str], Callable[[], Any]] = {
            ("POST", "/v1/chat/completions"): lambda: self._chat(shape, body, responder),
            ("GET", "/v1/models"): lambda: responder.send_json(200, self._models()),
        }
        if self._ollama:
            routes |= {
                ("POST", "/api/chat"): lambda: self._chat(shape, body, responder),
                ("GET", "/api/tags"): lambda: responder.send_json(200, self._ollama_tags()),
                ("POST", "/api/show"): lambda: responder.send_json(200, self._ollama_show()),
                ("GET", "/api/version"): lambda: responder.send_json(200, {"version": "0.12.0"}),
            }
        handler = routes.get((request.method, request.path))
        if handler is not None:
            await handler()
            return
        known = any(path == request.path for _, path in routes)
        status = 405 if known else 404
        message = f"{request.method} {request.path} is not served by this fake {shape.name} server"
        await responder.send_json(status, error_body(style, status, message))

    # ------------------------------------------------------------ chat

    async def _chat(self, shape: Shape, body: Any, responder: Responder) -> None:
        native, style = shape.native_ollama, shape.error_style
        if not isinstance(body, dict):
            message = "request body must be a JSON object"
            await responder.send_json(400, error_body(style, 400, message))
            return
        if self.enforce_rules:
            violation = check_request(shape.name, body)
            if violation is not None:
                payload = error_body(
                    style, violation.status, violation.message, param=violation.param
                )
                await responder.send_json(violation.status, payload)
                return
        try:
            turn = self._take_turn(body)
        except _ScriptError as exc:
            await responder.send_json(500, error_body(style, 500, str(exc)))
            return
        if turn.first_byte_delay_s:
            await asyncio.sleep(turn.first_byte_delay_s)
        if turn.status is not None:
            headers = {} if turn.retry_after is None else {"retry-after": f"{turn.retry_after:g}"}
            await responder.send_json(
                turn.status, error_body(style, turn.status, turn.error_message), headers
            )
            return
        # Ollama's native API streams unless told not to; the OpenAI wire is the reverse.
        streaming = body.get("stream", native) is True
        if turn.raw_body is not None:
            kind = ("application/x-ndjson" if native else "text/event-stream") if streaming else ""
            await responder.send(
                200,
                turn.raw_body,
                content_type=kind or "application/json",
                headers=dict(turn.raw_headers or {}),
            )
            return
        reply = Reply(shape, turn, str(body.get("model") or self.model), turn.token_usage(body))
        try:
            if native:
                events: list[Any] = list(ollama_chat_lines(reply)) if streaming else []
                complete = None if streaming else ollama_chat_response(reply)
            else:
                stream_options = body.get("stream_options")
                include_usage = isinstance(stream_options, dict) and bool(
                    stream_options.get("include_usage")
                )
                events = list(chat_chunks(reply, include_usage=include_usage)) if streaming else []
                complete = None if streaming else chat_completion(reply)
        except ValueError as exc:  # a turn this shape cannot express
            await responder.send_json(500, error_body(style, 500, str(exc)))
            return
        if complete is not None:
            await responder.send_json(200, complete)
            return
        await self._stream(reply, events, responder)

    async def _stream(self, reply: Reply, events: list[Any], responder: Responder) -> None:
        turn, shape = reply.turn, reply.shape
        native = shape.native_ollama
        frame = _ndjson if native else _sse
        keepalive = turn.keepalive_comments and not native  # NDJSON has no comments
        await responder.start_stream("application/x-ndjson" if native else "text/event-stream")
        for sent, event in enumerate(events):
            if turn.drop_after_chunks is not None and sent >= turn.drop_after_chunks:
                responder.drop()
                return
            if turn.error_after_chunks is not None and sent >= turn.error_after_chunks:
                await self._stream_error(reply, responder)
                return
            if sent and turn.delay_s:
                await asyncio.sleep(turn.delay_s)
            if keepalive:
                await responder.stream(shape.keepalive, split=turn.split_events)
            await responder.stream(frame(event), split=turn.split_events)
        if turn.drop_after_chunks is not None:  # asked to drop after the last chunk: no [DONE]
            responder.drop()
            return
        if not native:
            await responder.stream(b"data: [DONE]\n\n", split=turn.split_events)
        await responder.end_stream()

    async def _stream_error(self, reply: Reply, responder: Responder) -> None:
        message = reply.turn.error_message
        if reply.shape.native_ollama:
            await responder.stream(_ndjson({"error": message}))
        else:
            await responder.stream(_sse(stream_error_event(reply, 500, message)))
            if reply.shape.done_after_error:
                await responder.stream(b"data: [DONE]\n\n")
        await responder.end_stream()

    def _take_turn(self, body: dict[str, Any]) -> Turn:
        script = self._script
        if callable(script):
            try:
                turn = script(body)
            except Exception as exc:
                raise _ScriptError(f"FakeModelServer script raised {exc!r}") from exc
            if not isinstance(turn, Turn):
                raise _ScriptError(f"FakeModelServer script returned {turn!r}, not a Turn")
            return turn
        index = self._next_turn
        if index >= len(script):
            raise _ScriptError(
                f"FakeModelServer script exhausted: {len(script)} turn(s) scripted, "
                f"this is chat request #{index + 1}"
            )
        self._next_turn += 1
        return script[index]

    # ------------------------------------------------------------ listings

    def _models(self) -> dict[str, Any]:
        entry = {
            "id": self.model,
            "object": "model",
            "created": 0,
            "owned_by": self._v1_shape.owned_by,
        }
        return {"object": "list", "data": [entry]}

    def _ollama_tags(self) -> dict[str, Any]:
        model = {
            "name": self.model,
            "model": self.model,
            "modified_at": ollama_timestamp(),
            "size": 0,
            "digest": "0" * 64,
            "details": _OLLAMA_DETAILS,
        }
        return {"models": [model]}

    def _ollama_show(self) -> dict[str, Any]:
        return {
            "modelfile": "",
            "parameters": "",
            "template": "",
            "details": _OLLAMA_DETAILS,
            "model_info": {"general.architecture": "qwen3"},
            "capabilities": ["completion", "tools", "thinking"],
            "modified_at": ollama_timestamp(),
        }


_OLLAMA_DETAILS = {
    "parent_model": "",
    "format": "gguf",
    "family": "qwen3",
    "families": ["qwen3"],
    "parameter_size": "8.2B",
    "quantization_level": "Q4_K_M",
}


def _sse(event: Any) -> bytes:
    return b"data: " + dumps(event) + b"\n\n"


def _ndjson(event: Any) -> bytes:
    return dumps(event) + b"\n"


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _redact(value: str) -> str:
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {_REDACTED}" if sep and scheme.lower() in ("bearer", "basic") else _REDACTED
