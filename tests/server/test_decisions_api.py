"""Approvals over HTTP: approval_required, decisions, 404/409/422, Last-Event-ID replay."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from server_harness import fake_agent, serving, sse_events

from ponder.memory import MemoryStore, scan_files_for, sqlite_artifacts
from ponder.server import create_app
from ponder.testing import ToolCallSpec, Turn

CANARY = "CANARY-server-approval-5d1e"


def script() -> list[Turn]:
    return [
        Turn(
            reasoning=f"{CANARY} adding",
            content="Let me add them.",
            tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})],
        ),
        Turn(reasoning=f"{CANARY} done", content="It is 5."),
    ]


async def test_stream_pauses_then_decisions_finish_the_run(
    memory: MemoryStore, memory_db: Path
) -> None:
    async with (
        fake_agent(script(), memory, approvals={"add": "always"}) as (agent, _model),
        serving(create_app({"calc": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        response = await client.post(
            "/agents/calc/runs/stream", json={"question": "2+3?", "thread_id": "t1"}
        )
        frames = sse_events(response.text)
        assert all("id" in f for f in frames)
        kinds = [f["event"] for f in frames]
        assert kinds[0] == "run" and kinds[-2:] == ["approval_required", "final"]
        approval = json.loads(frames[-2]["data"])
        final = json.loads(frames[-1]["data"])["result"]
        assert final["outcome"] == "awaiting_approval"
        run_id = approval["run_id"]
        assert approval["thread_id"] == "t1" and final["run_id"] == run_id
        [call] = approval["calls"]
        assert (call["tool"], call["arguments"], call["intent"]) == (
            "add",
            {"a": 2, "b": 3},
            "Let me add them.",
        )

        busy = await client.post("/agents/calc/runs", json={"question": "x", "thread_id": "t1"})
        assert busy.status_code == 409
        unknown = await client.post(
            "/runs/nope/decisions", json={"decisions": [{"call_id": "c", "action": "approve"}]}
        )
        assert unknown.status_code == 404
        bad_edit = await client.post(
            f"/runs/{run_id}/decisions",
            json={
                "decisions": [
                    {"call_id": call["call_id"], "action": "edit", "arguments": {"a": "two"}}
                ]
            },
        )
        assert bad_edit.status_code == 422, bad_edit.text
        wrong_call = await client.post(
            f"/runs/{run_id}/decisions",
            json={"decisions": [{"call_id": "other", "action": "approve"}]},
        )
        assert wrong_call.status_code == 422

        decided = await client.post(
            f"/runs/{run_id}/decisions/stream",
            json={"decisions": [{"call_id": call["call_id"], "action": "approve"}]},
        )
        more = sse_events(decided.text)
        assert [f["event"] for f in more][-1] == "final"
        assert int(more[0]["id"]) == int(frames[-1]["id"]) + 1  # ids continue the run's
        result = json.loads(more[-1]["data"])["result"]
        assert result["answer"] == "It is 5." and result["run_id"] == run_id

        again = await client.post(
            f"/runs/{run_id}/decisions",
            json={"decisions": [{"call_id": call["call_id"], "action": "approve"}]},
        )
        assert again.status_code == 409

        # reconnect after the first frames: the kept events follow, reasoning is gone
        replay = await client.get(
            f"/runs/{run_id}/events", headers={"Last-Event-ID": frames[1]["id"]}
        )
        replayed = sse_events(replay.text)
        assert replayed[0]["event"] == "reasoning_gone"
        ids = [int(f["id"]) for f in replayed[1:]]
        assert ids == sorted(ids) and ids[0] > int(frames[1]["id"])
        assert [f["event"] for f in replayed][-1] == "final"
        assert "approval_required" in [f["event"] for f in replayed]
        history = (await client.get("/threads/t1")).json()
        assert [t["answer"] for t in history["turns"]] == ["It is 5."]
    await memory.aclose()
    assert scan_files_for(CANARY, sqlite_artifacts(memory_db)) == []


async def test_reject_over_json(memory: MemoryStore) -> None:
    turns = [*script()[:1], Turn(content="Fine, no tools.")]
    async with (
        fake_agent(turns, memory, approvals={"add": "always"}) as (agent, model),
        serving(create_app({"calc": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        paused = (await client.post("/agents/calc/runs", json={"question": "2+3?"})).json()
        assert paused["outcome"] == "awaiting_approval"
        [call] = paused["pending"]
        done = await client.post(
            f"/runs/{paused['run_id']}/decisions",
            json={
                "decisions": [
                    {"call_id": call["call_id"], "action": "reject", "message": "do it by hand"}
                ]
            },
        )
        assert done.status_code == 200 and done.json()["answer"] == "Fine, no tools."
        assert "do it by hand" in json.dumps(model.requests[-1].body)
