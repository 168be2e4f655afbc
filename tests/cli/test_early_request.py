"""``ponder run``'s early first request: sent before the agent stack is imported, then adopted.

What must hold: the wire sees exactly the request the agent's graph would
have sent (compared with a run that takes the ordinary path), once; events,
answers and errors are what they are without it; a request that does not
match is cancelled, never answered twice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ponder.backends import OpenAICompatibleBackend
from ponder.backends.types import ChatRequest, Completed, StreamEvent, UserMessage
from ponder.cli import main
from ponder.cli.early_request import EarlyBackend, EarlyRequest
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

PROOF = {"claim": {"kind": "identity", "lhs": "(a+b)**2", "rhs": "a**2 + 2*a*b + b**2"}}


def _env(tmp_path: Path, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "DEEPSEEK_"))}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PONDER_MEMORY_URL=f"sqlite:///{tmp_path / 'memory.db'}",
        PONDER_BASE_URL=base_url,
        PONDER_MODEL="fake-r1",
    )
    return env


def _ponder_run(tmp_path: Path, turns: list[Turn], *args: str) -> tuple[Any, list[Any]]:
    with FakeModelServer(turns, shape="vllm") as server:
        done = subprocess.run(
            [sys.executable, "-m", "ponder", "run", *args],
            env=_env(tmp_path, server.base_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done, [request.body for request in server.requests]


def test_the_early_request_is_the_request_the_graph_sends_and_goes_out_once(
    tmp_path: Path,
) -> None:
    turns = [Turn(reasoning="a square", tool_calls=[ToolCallSpec("check_proof", PROOF)])]
    turns.append(Turn(reasoning="proved", content="It holds."))
    early, early_bodies = _ponder_run(tmp_path, turns, "Is (a+b)^2 = a^2+2ab+b^2?")
    # --thread with a new id takes the ordinary path (history could exist) and sends the same
    plain, plain_bodies = _ponder_run(
        tmp_path, turns, "--thread", "a-new-thread", "Is (a+b)^2 = a^2+2ab+b^2?"
    )
    assert early.returncode == plain.returncode == 0, early.stderr + plain.stderr
    assert early.stdout == plain.stdout == "It holds.\n"
    assert len(early_bodies) == len(plain_bodies) == 2  # adopted: nothing sent twice
    assert early_bodies[0] == plain_bodies[0]
    assert _without_call_ids(early_bodies[1]) == _without_call_ids(plain_bodies[1])


def test_the_math_tutor_sends_its_first_request_early_and_the_same(tmp_path: Path) -> None:
    turns = [
        Turn(reasoning="a square", tool_calls=[ToolCallSpec("check_proof", PROOF)]),
        Turn(reasoning="proved", content="It holds: (a+b)^2 = a^2+2ab+b^2."),
        Turn(content='{"final_values": ["a^2+2ab+b^2"]}'),  # the verifier's claim extraction
    ]
    question = ["--agent", "math-tutor", "Is (a+b)^2 = a^2+2ab+b^2?"]
    early, early_bodies = _ponder_run(tmp_path, turns, *question)
    plain, plain_bodies = _ponder_run(tmp_path, turns, "--thread", "a-new-thread", *question)
    assert early.returncode == plain.returncode, early.stderr + plain.stderr
    assert early.stdout == plain.stdout and "It holds" in early.stdout
    assert len(early_bodies) == len(plain_bodies) >= 2  # adopted: nothing sent twice
    assert early_bodies[0]["messages"][0]["content"].startswith("You are a careful math tutor")
    assert [_without_call_ids(b) for b in early_bodies] == [
        _without_call_ids(b) for b in plain_bodies
    ]


def _without_call_ids(value: Any) -> Any:
    """The body with the fake's generated tool-call ids left out (they differ per run)."""
    if isinstance(value, dict):
        return {
            k: _without_call_ids(v) for k, v in value.items() if k not in ("id", "tool_call_id")
        }
    if isinstance(value, list):
        return [_without_call_ids(v) for v in value]
    return value


def test_an_early_request_that_fails_fails_the_run_as_usual(tmp_path: Path) -> None:
    with FakeModelServer([Turn(content="never")], shape="vllm", api_key="sk-right") as server:
        env = _env(tmp_path, server.base_url) | {"PONDER_API_KEY": "sk-wrong"}
        done = subprocess.run(
            [sys.executable, "-m", "ponder", "run", "hi"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 4, done.stderr  # authentication failed, as the README says
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


async def _collect(stream: Any) -> list[StreamEvent]:
    return [event async for event in stream]


def _request(question: str) -> ChatRequest:
    return ChatRequest(messages=(UserMessage(content=question),))


async def test_a_matching_request_adopts_the_stream_and_a_different_one_is_sent_anew() -> None:
    turns = [Turn(reasoning="r", content="first"), Turn(reasoning="r", content="second")]
    with FakeModelServer(turns, shape="vllm") as server:
        backend = OpenAICompatibleBackend(base_url=server.base_url, model="fake-r1")
        adopted = EarlyBackend(backend, EarlyRequest(backend, _request("q")))
        events = await _collect(adopted.stream(_request("q")))
        later = await _collect(adopted.stream(_request("q")))  # only the first call adopts
        await adopted.aclose()
        assert [request.body["messages"] for request in server.requests] == [
            [{"role": "user", "content": "q"}]
        ] * 2
    first, second = (
        next(e for e in stream if isinstance(e, Completed)).completion.content
        for stream in (events, later)
    )
    assert (first, second) == ("first", "second")


async def test_a_request_that_differs_cancels_the_early_one() -> None:
    slow = Turn(reasoning="thinking " * 200, content="early", chunk_chars=4, delay_s=0.05)
    with FakeModelServer([slow, Turn(content="asked")], shape="vllm") as server:
        backend = OpenAICompatibleBackend(base_url=server.base_url, model="fake-r1")
        early = EarlyRequest(backend, _request("guess"))
        model = EarlyBackend(backend, early)
        await asyncio.sleep(0.2)  # let it go out (if it has not, cancelling it is as good)
        events = await _collect(model.stream(_request("the real question")))
        done = [e for e in events if isinstance(e, Completed)]
        assert done[0].completion.content == "asked"
        # cancelled: its 22 s of slow reasoning are not waited for
        await asyncio.wait_for(early.aclose(), timeout=10)
        await model.aclose()


@pytest.mark.parametrize("extra", [["--schema", "SCHEMA"], ["--trace", "TRACE"]])
def test_runs_the_early_path_cannot_predict_take_the_ordinary_one(
    tmp_path: Path, extra: list[str]
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text('{"type": "object", "properties": {"n": {"type": "integer"}}}')
    extra = [
        str(schema) if a == "SCHEMA" else str(tmp_path / "t.jsonl") if a == "TRACE" else a
        for a in extra
    ]
    done, bodies = _ponder_run(tmp_path, [Turn(content='{"n": 4}')], *extra, "2+2 as n?")
    assert done.returncode == 0, done.stderr
    assert len(bodies) == 1


def test_a_plain_run_adopts_its_early_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adopted: list[ChatRequest] = []
    real_events = EarlyRequest.events

    def spy(self: EarlyRequest) -> Any:
        adopted.append(self.request)
        return real_events(self)

    monkeypatch.setattr(EarlyRequest, "events", spy)
    with FakeModelServer([Turn(reasoning="easy", content="4")], shape="vllm") as server:
        for key, value in _env(tmp_path, server.base_url).items():
            monkeypatch.setenv(key, value)
        with pytest.raises(SystemExit) as done:
            main(["run", "2+2?"])
        assert done.value.code in (0, None)
        assert len(server.requests) == 1
    assert len(adopted) == 1 and adopted[0].messages[-1] == UserMessage(content="2+2?")
