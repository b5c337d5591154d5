"""Streaming chat: NDJSON events ``start`` (with ``context``: what the prompt took of the
model's window, and the earlier messages left out), ``token``..., then ``done`` or
``error`` (with its ``code``); the relay itself is :mod:`embedded_server.services.chat`.
A prompt that cannot fit is refused with 422 ``context_overflow`` before anything is
stored or sent."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import StreamingResponse

from embedded_server.api.deps import ChatDep
from embedded_server.api.schemas import ChatRequest, DraftCount
from embedded_server.api.streaming import RelayResponse
from embedded_server.backends.base import ContextOverflow
from embedded_server.db.store import NotFound
from embedded_server.errors import ERROR_RESPONSES
from embedded_server.services.chat import ChatService

router = APIRouter(prefix="/api", tags=["chat"], responses=ERROR_RESPONSES)


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
    with _known_conversation(body):
        relay = await service.start(**_arguments(body, service))
    return RelayResponse(relay)


@router.post("/chat/count")
async def count(body: ChatRequest, service: ChatDep) -> DraftCount:
    """What a chat request would take of its model's window, without sending or storing
    it: the composer's meter asks this of a draft as it is typed."""
    try:
        with _known_conversation(body):
            plan = await service.fit(**_arguments(body, service))
    except ContextOverflow as exc:
        return DraftCount(
            fits=False,
            model=body.model,
            context={
                "window": exc.window,
                "prompt_tokens": exc.tokens,
                "reserved": exc.reserved,
                "omitted_messages": 0,
            },
            error=str(exc),
        )
    return DraftCount(fits=True, model=plan.model, context=plan.fitted.report.public())


def _arguments(body: ChatRequest, service: ChatService) -> dict[str, Any]:
    """A chat request as :meth:`ChatService.start` and :meth:`ChatService.fit` take it;
    422 for a ``num_ctx`` over the server's ``ASSISTANT_MAX_CONTEXT_TOKENS``."""
    cap = service.settings.max_context_tokens
    if body.options.num_ctx and body.options.num_ctx > cap:
        raise HTTPException(
            422,
            f"options.num_ctx: at most {cap:,} tokens on this server",
        )
    return {
        "messages": [(m.role, m.content) for m in body.messages],
        "conversation_id": body.conversation_id,
        "model": body.model,
        "system": body.system,
        "reference": body.reference,
        "options": body.options.model_dump(exclude_none=True),
        "policy": body.context_policy,
    }


@contextlib.contextmanager
def _known_conversation(body: ChatRequest) -> Iterator[None]:
    """404 for a ``conversation_id`` that is not there (or not this key's)."""
    try:
        yield
    except NotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no conversation {body.conversation_id!r}"
        ) from None
