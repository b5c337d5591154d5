"""A conversation's pages from a server that predates them: such a server ignores ``last``
and ``before`` and sends the whole history; the client cuts the page a newer server would
send, so the chat page never draws thousands of messages at once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from elite_panel.client.assistant import AssistantClient

AT = "2026-12-01T10:00:00+00:00"
HISTORY = [
    {
        **dict.fromkeys(("model", "error", "prompt_tokens", "completion_tokens", "ttft_ms")),
        **{"tokens_per_second": None, "created_at": AT, "status": "complete"},
        **{"id": f"m{i}", "role": "user", "content": str(i)},
    }
    for i in range(45)
]
CONVERSATION = {
    **{"id": "c1", "title": "long", "pinned": False, "model": None},
    **{"created_at": AT, "updated_at": AT},
}


def older_server(request: httpx.Request) -> httpx.Response:
    """The double of a server before pages: every history whole, without ``earlier``."""
    return httpx.Response(200, json={**CONVERSATION, "messages": HISTORY})


def pages(*asks: dict[str, Any]) -> list[tuple[list[str], int]]:
    async def run() -> list[tuple[list[str], int]]:
        client = AssistantClient("http://team.example", "key")
        client._http = httpx.AsyncClient(
            base_url="http://team.example", transport=httpx.MockTransport(older_server)
        )
        try:
            out = []
            for ask in asks:
                page = await client.conversation("c1", **ask)
                out.append(([m.id for m in page.messages], page.earlier))
            return out
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_the_client_cuts_the_pages_an_older_server_does_not() -> None:
    newest, back, first, whole, unknown = pages(
        {"last": 20},
        {"last": 20, "before": "m25"},
        {"last": 20, "before": "m5"},
        {},
        {"last": 20, "before": "gone"},
    )
    assert newest == ([f"m{i}" for i in range(25, 45)], 25)
    assert back == ([f"m{i}" for i in range(5, 25)], 5)
    assert first == ([f"m{i}" for i in range(5)], 0)
    assert len(whole[0]) == 45  # without last: the whole history, as asked
    assert unknown == ([], 0)
