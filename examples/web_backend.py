"""Embedding ponder in an existing FastAPI app.

Shows: your own app keeps its routes; ponder's app is mounted under /ponder
(native API, SSE, thread history, an OpenAI-compatible /ponder/v1, the chat
page at /ponder/, and the two streams front ends speak: AG-UI at
/ponder/agents/math/ag-ui and the Vercel AI SDK UI message stream at
/ponder/agents/math/ui-message-stream, for ``useChat``), its lifespan chained
into yours so shutdown cancels runs still in flight; the backend and memory
are opened once and closed when the app stops.

Run (any OpenAI-compatible R1-class endpoint; PONDER_* as for ``ponder run``):

    pip install 'ponder[server]'
    PONDER_BASE_URL=https://api.deepseek.com PONDER_MODEL=deepseek-v4-pro \\
    PONDER_API_KEY=... PONDER_SERVER_KEY=choose-a-token python examples/web_backend.py

(``PORT`` picks another port than 8000; ``--fake`` answers from a scripted
loopback model instead, to try the page offline.) Then:

    curl -H "Authorization: Bearer $PONDER_SERVER_KEY" -H 'Content-Type: application/json' \\
         -d '{"question": "Is 2^61-1 prime?"}' http://127.0.0.1:8000/ponder/agents/math/runs

or open http://127.0.0.1:8000/ponder/ in a browser (it asks for the token once).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from _fake import backend
from fastapi import FastAPI

from ponder.agents import Agent
from ponder.memory import MemoryStore
from ponder.server import create_app, serve
from ponder.testing import Turn

FAKE_TURN = Turn(
    reasoning="Lucas–Lehmer: the 59th term of the sequence is 0 mod 2^61 - 1.",
    content="Yes: $2^{61}-1 = 2305843009213693951$ is a Mersenne prime (Pervushin, 1883).",
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    memory = MemoryStore.from_url(os.environ.get("PONDER_MEMORY_URL"))
    keys = [os.environ["PONDER_SERVER_KEY"]] if os.environ.get("PONDER_SERVER_KEY") else None
    try:
        async with backend(lambda _request: FAKE_TURN) as model:
            agent = Agent(model, memory=memory)
            keys = (
                [os.environ["PONDER_SERVER_KEY"]] if os.environ.get("PONDER_SERVER_KEY") else None
            )
            ponder_app = create_app({"math": agent}, memory=memory, api_keys=keys)
            app.mount("/ponder", ponder_app)
            async with ponder_app.router.lifespan_context(ponder_app):
                yield
    finally:
        await memory.aclose()


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def index() -> dict[str, str]:
    """One of your app's own routes, untouched by ponder."""
    return {
        "service": "my-backend",
        "page": "/ponder/",
        "ag-ui": "/ponder/agents/math/ag-ui",
        "ai-sdk": "/ponder/agents/math/ui-message-stream",
    }


if __name__ == "__main__":
    serve("127.0.0.1", int(os.environ.get("PORT", "8000")), app)
