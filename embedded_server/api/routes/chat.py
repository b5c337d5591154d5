"""Streaming chat: NDJSON events ``start``, ``token``..., then ``done`` or ``error``
(with its ``code``); the relay itself is :mod:`embedded_server.services.chat`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from embedded_server.api.deps import ChatDep
from embedded_server.api.schemas import ChatRequest
from embedded_server.db.store import NotFound
from embedded_server.errors import ERROR_RESPONSES
from embedded_server.services.chat import Relay

router = APIRouter(prefix="/api", tags=["chat"], responses=ERROR_RESPONSES)


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


@router.post(
    "/chat",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "NDJSON events: start, token..., done or error",
        }
    },
)
async def chat(body: ChatRequest, service: ChatDep) -> StreamingResponse:
    try:
        relay = await service.start(
            [(m.role, m.content) for m in body.messages],
            body.conversation_id,
            body.model,
            body.system,
            body.options.model_dump(exclude_none=True),
        )
    except NotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no conversation {body.conversation_id!r}"
        ) from None
    return RelayResponse(relay)
