"""The response that streams a chat relay's events, for the server's chat and the
OpenAI-compatible routes alike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from embedded_server.services.chat import Relay


class RelayResponse(StreamingResponse):
    """Streams a relay's events in one format, and closes the relay however the response
    ends, also when it never began to stream (a client gone before the first byte: the
    events generator then never runs)."""

    def __init__(
        self,
        relay: Relay,
        content: AsyncIterator[bytes] | None = None,
        media_type: str = "application/x-ndjson",
    ) -> None:
        super().__init__(content or ndjson(relay.events()), media_type=media_type)
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.relay.close()


async def ndjson(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield json.dumps(event, ensure_ascii=False).encode() + b"\n"
