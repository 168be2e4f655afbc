"""The chat page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Against a real uvicorn server on loopback and a FakeModelServer: sign in with
a token, ask, watch reasoning stream and fold away, see a proof verdict card
and typeset math, resume the thread and delete it; on a phone, in the dark
theme and by keyboard: a search card with its source and a pretty-printed
JSON answer, and with reasoning not allowed, no reasoning text anywhere in
the DOM or in what the page received; a code card from the real sandbox; a
paused tool call edited on its approval card, then run.
Screenshots go to the test's tmp dir; ``PONDER_SCREENSHOT=path`` also saves
the README's screenshot there.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from capabilities import missing
from server_harness import fake_agent, last_user_text, serving

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore
from ponder.server import create_app
from ponder.testing import FakeModelServer, ToolCallSpec, Turn
from ponder.tools.code import LocalSandbox, run_python_tool
from ponder.tools.proof import check_proof_tool
from ponder.tools.search import LocalIndex, search_tool

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
TOKEN = "page-test-token"
CANARY = f"PAGE-CANARY-{uuid.uuid4().hex}"
ANSWER = (
    "No. The checker refuted it: $(a+b)^2 = a^2 + 2ab + b^2$, so the claim fails "
    "whenever $2ab \\ne 0$, e.g. at $a = b = 1$.\n\n"
    "$$\\int_0^1 x\\,dx = \\frac{1}{2}$$"
)
FOLLOW_UP = "Yes: $(a-b)^2 = a^2 - 2ab + b^2$."


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing("the playwright Python package", "pip install playwright")
    if not os.access(CHROMIUM, os.X_OK):
        missing("Debian's chromium at /usr/bin/chromium", "apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


def tutor_script(body: dict[str, Any]) -> Turn:
    question = last_user_text(body)
    if question.startswith("And"):
        return Turn(content=FOLLOW_UP)
    if not any(m["role"] == "tool" for m in body["messages"]):
        return Turn(
            reasoning="Let me test this identity with the proof checker before I answer.",
            chunk_chars=3,
            delay_s=0.02,
            tool_calls=[
                ToolCallSpec(
                    "check_proof",
                    {"claim": {"kind": "identity", "lhs": "(a+b)**2", "rhs": "a**2 + b**2"}},
                )
            ],
        )
    return Turn(
        reasoning="The checker says refuted, with a counterexample.",
        content=ANSWER,
        chunk_chars=6,
        delay_s=0.01,
    )


async def test_ask_reasoning_verdict_math_resume_delete(
    browser: Any, memory: MemoryStore, tmp_path: Path
) -> None:
    with FakeModelServer(tutor_script, shape="deepseek") as model:
        async with OpenAICompatibleBackend(
            base_url=model.base_url, model="deepseek-v4-pro", api_key="k", profile="deepseek"
        ) as backend:
            agent = Agent(backend, [check_proof_tool()], memory=memory)
            app = create_app(
                {"tutor": agent}, memory=memory, api_keys=[TOKEN], allow_reasoning=True
            )
            async with serving(app) as url:
                page = await browser.new_page(viewport={"width": 1200, "height": 860})
                sent_auth: list[str | None] = []
                page.on("request", lambda r: sent_auth.append(r.headers.get("authorization")))
                await page.goto(f"{url}/")

                # the token is asked for once, kept in sessionStorage, never in the URL
                await page.get_by_label("Bearer token").fill(TOKEN)
                await page.get_by_role("button", name="Sign in").click()
                await page.wait_for_selector("body[data-ready=true]")
                assert await page.evaluate("sessionStorage.getItem('ponder.token')") == TOKEN
                assert TOKEN not in page.url
                assert await page.get_by_label("Agent").input_value() == "tutor"
                assert await page.get_by_label("Show reasoning").is_checked()

                await page.get_by_label("Your question").fill("Is (a+b)^2 = a^2 + b^2?")
                await page.get_by_label("Your question").press("Enter")

                # reasoning streams into an open panel before any answer exists
                await page.wait_for_function(
                    """() => {
                        const text = document.querySelector('.reasoning-text');
                        return text && text.textContent.includes('proof checker')
                          && document.querySelector('details.reasoning').open
                          && !document.querySelector('.answer');
                    }"""
                )
                card = page.locator("section.tool-check_proof")
                await card.locator(".badge.refuted").wait_for()
                assert "(a+b)**2 = a**2 + b**2" in await card.locator(".claim").inner_text()
                counterexample = await card.locator(".counterexample").inner_text()
                assert counterexample.startswith("Counterexample:") and "=" in counterexample

                await page.locator(".turn .meta").wait_for()
                # the panel folded away when the answer began; the answer is typeset
                assert not await page.locator("details.reasoning").evaluate("d => d.open")
                answer = page.locator(".turn .answer")
                assert await answer.locator(".katex").count() >= 4
                assert await answer.locator(".katex-display").count() == 1
                assert "$" not in await answer.locator("p").first.inner_text()
                await page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
                if target := os.environ.get("PONDER_SCREENSHOT"):
                    shutil.copy(tmp_path / "answer.png", target)

                # the thread is listed; a new thread clears the page; resuming shows history
                thread = page.locator("#threads .open-thread")
                await thread.wait_for()
                assert await thread.count() == 1
                await page.get_by_role("button", name="New thread").click()
                assert await page.locator(".turn").count() == 0
                await thread.click()
                await page.locator(".turn .answer .katex").first.wait_for()
                assert await page.locator(".turn").count() == 1
                await page.get_by_label("Your question").fill("And (a-b)^2 = a^2 - 2ab + b^2?")
                await page.get_by_label("Your question").press("Enter")
                await page.locator(".turn:nth-of-type(2) .meta").wait_for()
                follow_up = model.requests[-1].body or {}
                history = [m.get("content") for m in follow_up["messages"]]
                assert ANSWER in history  # the resumed thread carried the first answer
                assert all(CANARY not in json.dumps(m) for m in follow_up["messages"])

                (thread_id,) = [t.id for t in await memory.list_threads()]
                await page.get_by_role("button", name="Delete thread: Is (a+b)^2").click()
                await page.get_by_text("No saved threads yet.").wait_for()
                assert await page.locator(".turn").count() == 0
                async with httpx.AsyncClient(
                    base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}
                ) as http:
                    assert (await http.get(f"/threads/{thread_id}")).status_code == 404
                api_calls = [a for a in sent_auth if a is not None]
                assert api_calls and set(api_calls) == {f"Bearer {TOKEN}"}
                await page.close()


async def test_no_reasoning_anywhere_when_not_allowed_phone_dark_keyboard(
    browser: Any, memory: MemoryStore, tmp_path: Path
) -> None:
    answer = '{"prime": true, "factors": [2305843009213693951]}'
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "mersenne.md").write_text(
        "# Mersenne primes\n\n2^61-1 is a Mersenne prime, proved prime by Pervushin in 1883.\n"
    )
    index = LocalIndex(tmp_path / "index.db")
    index.index_folder(docs)
    script = [
        Turn(
            reasoning=f"secret thoughts {CANARY}",
            tool_calls=[ToolCallSpec("search", {"query": "Mersenne prime Pervushin"})],
        ),
        Turn(reasoning=f"more secret thoughts {CANARY}", content=answer, delay_s=0.01),
    ]
    with FakeModelServer(script, shape="deepseek") as model:
        async with OpenAICompatibleBackend(
            base_url=model.base_url, model="deepseek-v4-pro", api_key="k", profile="deepseek"
        ) as backend:
            agent = Agent(backend, [search_tool(index)], memory=memory)
            async with serving(create_app({"plain": agent}, memory=memory)) as url:
                page = await browser.new_page(
                    viewport={"width": 390, "height": 780}, color_scheme="dark"
                )
                bodies: list[Any] = []
                page.on("response", lambda r: bodies.append(r))
                posted: list[str] = []
                page.on("request", lambda r: posted.append(r.post_data or ""))
                await page.goto(f"{url}/")
                await page.wait_for_selector("body[data-ready=true]")
                assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
                assert not await page.get_by_label("Show reasoning").is_visible()

                # keyboard only: the skip link leads to the question box; Enter asks
                await page.keyboard.press("Tab")
                await page.keyboard.press("Enter")
                assert await page.evaluate("document.activeElement.id") == "question"
                await page.keyboard.type("Is 2^61-1 prime?")
                await page.keyboard.press("Enter")
                await page.locator(".turn .meta").wait_for()

                hit = page.locator("section.tool-search .hit")
                assert await hit.count() == 1
                assert "mersenne.md" in await hit.locator(".hit-source").inner_text()
                assert "Pervushin in 1883" in await hit.locator(".hit-snippet").inner_text()
                pretty = await page.locator(".answer.json pre").inner_text()
                assert pretty == json.dumps(json.loads(answer), indent=2)
                assert await page.locator("details.reasoning").count() == 0
                await page.screenshot(path=str(tmp_path / "phone-dark.png"), full_page=True)
                dom = await page.content()
                received = [await r.text() for r in bodies]
                await page.close()
    assert CANARY not in dom and "secret thoughts" not in dom
    assert received and all(CANARY not in text for text in received)
    assert any('"answer_delta"' in text for text in received)  # the stream itself was read
    assert all("include_reasoning" not in body for body in posted)


@pytest.mark.sandbox
async def test_code_card_shows_the_code_and_its_output(
    browser: Any, memory: MemoryStore, tmp_path: Path
) -> None:
    code = "print(2**61 - 1)\n[p for p in range(2, 20) if all(p % d for d in range(2, p))]"
    script = [
        Turn(tool_calls=[ToolCallSpec("run_python", {"code": code})]),
        Turn(content="It printed the Mersenne number and the primes below 20."),
    ]
    with FakeModelServer(script, shape="deepseek") as model:
        async with (
            OpenAICompatibleBackend(
                base_url=model.base_url, model="deepseek-v4-pro", api_key="k", profile="deepseek"
            ) as backend,
            LocalSandbox() as sandbox,
        ):
            agent = Agent(backend, [run_python_tool(sandbox)], memory=memory)
            async with serving(create_app({"coder": agent}, memory=memory)) as url:
                page = await browser.new_page(viewport={"width": 1000, "height": 760})
                await page.goto(f"{url}/")
                await page.wait_for_selector("body[data-ready=true]")
                await page.get_by_label("Your question").fill("Run it")
                await page.get_by_label("Your question").press("Enter")
                await page.locator(".turn .meta").wait_for()
                card = page.locator("section.tool-run_python")
                assert await card.locator("pre.code").inner_text() == code
                assert await card.locator("pre.stdout").inner_text() == "2305843009213693951"
                value = await card.locator("pre.value").inner_text()
                assert value == "[2, 3, 5, 7, 11, 13, 17, 19]"
                assert await card.locator(".badge.ok").count() == 1
                await page.screenshot(path=str(tmp_path / "code.png"), full_page=True)
                await page.close()


async def test_a_paused_call_is_edited_then_runs(browser: Any, memory: MemoryStore) -> None:
    script = [
        Turn(content="Let me add them.", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})]),
        Turn(content="The sum is 42."),
    ]
    async with (
        fake_agent(script, memory, approvals={"add": "always"}) as (agent, _),
        serving(create_app({"calc": agent}, memory=memory)) as url,
    ):
        page = await browser.new_page(viewport={"width": 1000, "height": 800})
        await page.goto(f"{url}/")
        await page.wait_for_selector("body[data-ready=true]")
        await page.get_by_label("Your question").fill("Add 2 and 3")
        await page.get_by_label("Your question").press("Enter")
        card = page.locator("section.approval")
        await card.wait_for()
        assert "Let me add them." in await card.locator(".intent").inner_text()
        arguments = card.get_by_label("Arguments for add (JSON)")
        assert json.loads(await arguments.input_value()) == {"a": 2, "b": 3}
        await card.get_by_role("button", name="Edit").click()
        await arguments.fill('{"a": 20, "b": 22}')
        await card.get_by_role("button", name="Send edited call").click()
        await page.locator(".turn .meta").wait_for()
        assert await page.locator(".turn .answer").inner_text() == "The sum is 42."
        assert "42" in await page.locator("section.tool-add .result").inner_text()
        await page.close()
    (thread,) = await memory.list_threads()
    assert [t.answer for t in await memory.turns(thread.id)] == ["The sum is 42."]
