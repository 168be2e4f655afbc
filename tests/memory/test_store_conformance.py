"""The memory store conformance suite: every backend must pass all of it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event

from memory.conformance import Backend, turn_times
from ponder.backends.types import AssistantMessage, UserMessage
from ponder.memory import MemoryStore, ReasoningLeakError, ToolCallSummary

# ------------------------------------------------------------ thread lifecycle


async def test_thread_lifecycle(store: MemoryStore, backend: Backend) -> None:
    tid = await store.create_thread(title="Algebra practice")
    assert await store.thread_exists(tid)
    [info] = await store.list_threads()
    assert (info.id, info.title, info.turn_count) == (tid, "Algebra practice", 0)
    assert info.created_at.tzinfo is not None

    await store.add_turn(tid, question="2+2?", answer="4", **turn_times())
    assert (await store.list_threads())[0].turn_count == 1

    assert await store.delete_thread(tid) is True
    assert not await store.thread_exists(tid)
    assert await store.turns(tid) == []
    assert await backend.table_rows("turns") == 0  # the foreign key cascaded
    assert await store.delete_thread(tid) is False


async def test_create_thread_with_id_and_duplicate(store: MemoryStore) -> None:
    assert await store.create_thread(thread_id="fixed-id") == "fixed-id"
    with pytest.raises(ValueError, match="already exists"):
        await store.create_thread(thread_id="fixed-id")
    generated = {await store.create_thread() for _ in range(3)}
    assert len(generated) == 3


async def test_add_turn_creates_missing_thread_titled_by_question(store: MemoryStore) -> None:
    question = "Why does my loop never end?\nHere is the code: ..."
    record = await store.add_turn(
        "new-thread", question=question, answer="off by one", **turn_times()
    )
    assert record.index == 0
    [info] = await store.list_threads()
    assert (info.id, info.title, info.turn_count) == (
        "new-thread",
        "Why does my loop never end?",
        1,
    )


async def test_list_threads_most_recent_first_and_limit(store: MemoryStore) -> None:
    for name in ("a", "b", "c"):
        await store.create_thread(thread_id=name)
    await store.add_turn("a", question="q", answer="a", **turn_times())
    assert (await store.list_threads())[0].id == "a"
    assert len(await store.list_threads(limit=2)) == 2
    with pytest.raises(ValueError):
        await store.list_threads(limit=-1)


# ----------------------------------------------------------------- turns


async def test_turns_are_ordered_and_round_trip(store: MemoryStore) -> None:
    calls = [
        ToolCallSummary(name="run_python", arguments='{"code": "print(1)"}', output_preview="1"),
        ToolCallSummary(name="search", arguments="{bad json", ok=False, output_preview="error"),
    ]
    tz = timezone(timedelta(hours=5))
    started = datetime(2026, 11, 28, 17, 0, tzinfo=tz)
    written = []
    for i in range(5):
        written.append(
            await store.add_turn(
                "t",
                question=f"q{i}",
                answer=f"a{i}",
                tool_calls=calls if i == 2 else (),
                model="deepseek-reasoner",
                usage={"prompt_tokens": 10 + i, "completion_tokens": 3},
                started_at=started,
                finished_at=started + timedelta(seconds=i),
            )
        )
    read = await store.turns("t")
    assert [t.index for t in read] == [0, 1, 2, 3, 4]
    assert read == written
    assert read[2].tool_calls == calls
    assert read[0].started_at == started and read[0].started_at.utcoffset() == timedelta(0)
    assert [t.index for t in await store.turns("t", last=2)] == [3, 4]
    assert await store.turns("t", last=0) == []
    assert await store.turns("missing") == []
    with pytest.raises(ValueError):
        await store.turns("t", last=-1)


async def test_history_is_collapsed_question_answer_pairs(store: MemoryStore) -> None:
    call = ToolCallSummary(name="check_proof", arguments="{}", output_preview="proved")
    for i in range(4):
        await store.add_turn(
            "h", question=f"q{i}", answer=f"a{i}", tool_calls=[call], **turn_times(i)
        )
    history = await store.history_messages("h", last=2)
    assert history == [
        UserMessage(content="q2"),
        AssistantMessage(content="a2"),
        UserMessage(content="q3"),
        AssistantMessage(content="a3"),
    ]
    assert all(not getattr(m, "tool_calls", ()) for m in history)
    assert len(await store.history_messages("h", last=None)) == 8
    assert await store.history_messages("nobody") == []


async def test_unicode_round_trips_and_nul_is_dropped(store: MemoryStore) -> None:
    text = "∫₀¹ x² dx = ⅓ — 数学 — مرحبا — e\u0301 — 🧮🦀"
    tid = "线程-🧵"
    await store.add_turn(
        tid,
        question=text,
        answer=text + "\x00!",
        tool_calls=[
            ToolCallSummary(name="run_python", arguments='{"s": "ü"}', output_preview="a\x00b")
        ],
        **turn_times(),
    )
    [turn] = await store.turns(tid)
    assert turn.question == text
    assert turn.answer == text + "!"
    assert turn.tool_calls[0].output_preview == "ab"


async def test_large_answer_and_capped_tool_text(store: MemoryStore) -> None:
    answer = "x" * 1_500_000 + "END"
    call = ToolCallSummary(
        name="run_python", arguments="[" + "1," * 10_000 + "1]", output_preview="y" * 50_000
    )
    await store.add_turn("big", question="long", answer=answer, tool_calls=[call], **turn_times())
    [turn] = await store.turns("big")
    assert turn.answer == answer
    assert len(turn.tool_calls[0].arguments) < 4_100
    assert turn.tool_calls[0].output_preview.endswith("more chars]")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"started_at": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"finished_at": datetime(2025, 1, 1, tzinfo=UTC)}, "earlier than"),
        ({"usage": {"prompt_tokens": "ten"}}, "usage"),
        ({"answer": None}, "answer must be a string"),
    ],
)
async def test_bad_turn_input_is_a_clear_value_error(
    store: MemoryStore, kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"question": "q", "answer": "a", **turn_times(), **kwargs}
    with pytest.raises(ValueError, match=message):
        await store.add_turn("t", **args)
    assert not await store.thread_exists("t")


@pytest.mark.parametrize("thread_id", ["", "   ", "x" * 201])
async def test_bad_thread_id(store: MemoryStore, thread_id: str) -> None:
    with pytest.raises(ValueError, match="thread_id"):
        await store.add_turn(thread_id, question="q", answer="a", **turn_times())


# --------------------------------------------------------- refusal of reasoning

_LEAKS: list[tuple[str, dict[str, Any]]] = [
    ("think block in answer", {"answer": "<think>secret</think>42"}),
    ("unpaired close tag in answer", {"answer": "secret</think>42"}),
    ("open tag in question", {"question": "<think>\nwhat is 2+2"}),
    ("R1 special token in answer", {"answer": "42<｜end▁of▁sentence｜>"}),
    (
        "reasoning_content key in tool arguments",
        {"tool_calls": [ToolCallSummary(name="f", arguments='{"reasoning_content": "secret"}')]},
    ),
    (
        "think tag in tool output",
        {"tool_calls": [ToolCallSummary(name="f", output_preview="<think>secret</think>")]},
    ),
    ("R1 tool-call token in tool name", {"tool_calls": [ToolCallSummary(name="<｜tool▁sep｜>f")]}),
]


@pytest.mark.parametrize(("case", "leak"), _LEAKS, ids=[c for c, _ in _LEAKS])
async def test_reasoning_is_refused(store: MemoryStore, case: str, leak: dict[str, Any]) -> None:
    args: dict[str, Any] = {"question": "q", "answer": "a", **turn_times(), **leak}
    with pytest.raises(ReasoningLeakError) as caught:
        await store.add_turn("leaky", **args)
    assert "secret" not in str(caught.value)
    assert not await store.thread_exists("leaky")


async def test_reasoning_in_title_is_refused(store: MemoryStore) -> None:
    with pytest.raises(ReasoningLeakError):
        await store.create_thread(title="<think>hmm</think>Title")


# ------------------------------------------------------------------ atomicity


async def test_failure_inside_the_write_leaves_nothing(store: MemoryStore) -> None:
    await store.add_turn("t", question="q0", answer="a0", **turn_times())

    def fail_on_thread_update(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE THREADS"):
            raise RuntimeError("disk on fire")

    sync_engine = store.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", fail_on_thread_update)
    try:
        with pytest.raises(RuntimeError, match="disk on fire"):
            await store.add_turn("t", question="q1", answer="a1", **turn_times(1))
        with pytest.raises(RuntimeError, match="disk on fire"):
            await store.add_turn("fresh", question="q", answer="a", **turn_times())
    finally:
        event.remove(sync_engine, "before_cursor_execute", fail_on_thread_update)

    assert [t.question for t in await store.turns("t")] == ["q0"]
    assert not await store.thread_exists("fresh")
    assert (await store.add_turn("t", question="q1", answer="a1", **turn_times(1))).index == 1


async def test_cancelled_write_leaves_nothing(store: MemoryStore, backend: Backend) -> None:
    await store.add_turn("t", question="q0", answer="a0", **turn_times())
    async with backend.hold_write_lock("t"):
        task = asyncio.create_task(store.add_turn("t", question="q1", answer="a1", **turn_times(1)))
        await asyncio.sleep(0.3)
        assert not task.done()  # blocked behind the other writer
        task.cancel()
    # Await only after the lock is gone: a cancelled SQLite writer finishes its
    # pending BEGIN before it can roll back.
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [t.question for t in await store.turns("t")] == ["q0"]
    assert (await store.add_turn("t", question="q2", answer="a2", **turn_times(2))).index == 1


# ---------------------------------------------------------------- concurrency


async def test_concurrent_writers_get_unique_consecutive_indexes(store: MemoryStore) -> None:
    async def write(i: int) -> int:
        record = await store.add_turn("busy", question=f"q{i}", answer=f"a{i}", **turn_times(i))
        return record.index

    indexes = await asyncio.gather(*(write(i) for i in range(50)))
    assert sorted(indexes) == list(range(50))
    turns = await store.turns("busy")
    assert [t.index for t in turns] == list(range(50))
    assert {t.question for t in turns} == {f"q{i}" for i in range(50)}
    [info] = await store.list_threads()
    assert info.turn_count == 50


async def test_concurrent_writers_across_threads(store: MemoryStore) -> None:
    await asyncio.gather(
        *(
            store.add_turn(f"t{i % 5}", question=f"q{i}", answer="a", **turn_times(i))
            for i in range(25)
        )
    )
    for info in await store.list_threads():
        assert info.turn_count == 5
        assert [t.index for t in await store.turns(info.id)] == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- persistence


async def test_reopen_after_close_persists(backend: Backend) -> None:
    first = backend.open()
    await first.create_thread(thread_id="kept", title="Kept")
    await first.add_turn("kept", question="q", answer="a", model="m", **turn_times())
    await first.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await first.turns("kept")

    second = backend.open()
    try:
        [turn] = await second.turns("kept")
        assert (turn.question, turn.answer, turn.model) == ("q", "a", "m")
        assert (await second.list_threads())[0].title == "Kept"
    finally:
        await second.aclose()


# ------------------------------------------------------- no reasoning persisted

CANARY = "CANARY-7f3a9c-reasoning-must-not-persist"
VISIBLE = "VISIBLE-51d2e8-final-answer"


async def test_no_reasoning_persisted(backend: Backend) -> None:
    store = backend.open()
    leaks: list[dict[str, Any]] = [
        {"answer": f"<think>{CANARY}</think>{VISIBLE}"},
        {"answer": f"{CANARY}</think>{VISIBLE}"},
        {"question": f"<think>{CANARY}"},
        {"answer": f"<｜tool▁calls▁begin｜>{CANARY}"},
        {
            "tool_calls": [
                ToolCallSummary(name="f", arguments=f'{{"reasoning_content": "{CANARY}"}}')
            ]
        },
        {"tool_calls": [ToolCallSummary(name="f", output_preview=f"<think>{CANARY}</think>")]},
    ]
    try:
        for i in range(6):
            await store.add_turn("run", question=f"q{i}", answer=f"{VISIBLE} {i}", **turn_times(i))
            with pytest.raises(ReasoningLeakError):
                args: dict[str, Any] = {"question": "q", "answer": "a", **turn_times(i), **leaks[i]}
                await store.add_turn("run", **args)
        assert len(await store.turns("run")) == 6
        # Scan while the store is open (SQLite's WAL still holds the writes) ...
        assert await backend.contains(VISIBLE), "positive control: the scan sees stored text"
        assert not await backend.contains(CANARY)
    finally:
        await store.aclose()
    # ... and after close.
    assert await backend.contains(VISIBLE)
    assert not await backend.contains(CANARY)
