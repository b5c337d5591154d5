"""Conversations: list and search, create, read, rename and pin, delete, export."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from embedded_server.api.deps import ConversationId, StoreDep
from embedded_server.api.export import to_json, to_markdown
from embedded_server.api.schemas import (
    ConversationCreate,
    ConversationDetail,
    ConversationPage,
    ConversationPublic,
    ConversationTruncate,
    ConversationUpdate,
    MessagePublic,
    Truncated,
)
from embedded_server.db.store import NotFound
from embedded_server.errors import ERROR_RESPONSES

HISTORY_PAGE = 50  # messages per page back when only ``before`` is given

router = APIRouter(prefix="/api/conversations", tags=["conversations"], responses=ERROR_RESPONSES)


def _not_found(conversation_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no conversation {conversation_id!r}")


def _no_message(conversation_id: str, message_id: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, f"no message {message_id!r} in conversation {conversation_id!r}"
    )


@router.get("")
async def list_conversations(
    store: StoreDep,
    q: Annotated[str, Query(max_length=500)] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ConversationPage:
    conversations, total = await store.search(q, limit, offset)
    return ConversationPage(
        conversations=[ConversationPublic.model_validate(c) for c in conversations], total=total
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_conversation(body: ConversationCreate, store: StoreDep) -> ConversationPublic:
    return ConversationPublic.model_validate(await store.create(title=body.title))


@router.get("/{conversation_id}")
async def get_conversation(
    conversation_id: ConversationId,
    store: StoreDep,
    last: Annotated[int | None, Query(ge=1, le=1000)] = None,
    before: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> ConversationDetail:
    """The conversation with all its messages, or with its newest ``last`` ones (before the
    message ``before``, to page back; ``last`` is then 50 unless given); ``earlier`` says
    how many older ones remain."""
    if last is None and before is not None:
        last = HISTORY_PAGE
    if last is None:
        try:
            conversation = await store.get(conversation_id, with_messages=True)
        except NotFound:
            raise _not_found(conversation_id) from None
        return ConversationDetail.model_validate(conversation)
    try:
        conversation, messages, earlier = await store.recent_messages(conversation_id, last, before)
    except NotFound:
        raise (
            _no_message(conversation_id, before) if before else _not_found(conversation_id)
        ) from None
    public = ConversationPublic.model_validate(conversation)
    return ConversationDetail(
        **public.model_dump(),
        messages=[MessagePublic.model_validate(m) for m in messages],
        earlier=earlier,
    )


@router.patch("/{conversation_id}")
async def update_conversation(
    conversation_id: ConversationId, body: ConversationUpdate, store: StoreDep
) -> ConversationPublic:
    try:
        conversation = await store.update(conversation_id, title=body.title, pinned=body.pinned)
    except NotFound:
        raise _not_found(conversation_id) from None
    return ConversationPublic.model_validate(conversation)


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(conversation_id: ConversationId, store: StoreDep) -> Response:
    try:
        await store.delete(conversation_id)
    except NotFound:
        raise _not_found(conversation_id) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{conversation_id}/truncate")
async def truncate_conversation(
    conversation_id: ConversationId, body: ConversationTruncate, store: StoreDep
) -> Truncated:
    """Delete a message and all later ones: to regenerate an answer or edit a prompt."""
    try:
        deleted = await store.truncate(conversation_id, body.message_id)
    except NotFound:
        raise _no_message(conversation_id, body.message_id) from None
    return Truncated(deleted=deleted)


@router.get(
    "/{conversation_id}/export",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}, "application/json": {}}}},
)
async def export_conversation(
    conversation_id: ConversationId,
    store: StoreDep,
    format: Literal["markdown", "json"] = "markdown",
) -> Response:
    detail = await get_conversation(conversation_id, store)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", detail.title).strip("-")[:60] or "conversation"
    if format == "json":
        body, media, ext = to_json(detail), "application/json", "json"
    else:
        body, media, ext = to_markdown(detail), "text/markdown; charset=utf-8", "md"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{stem}.{ext}"'},
    )
