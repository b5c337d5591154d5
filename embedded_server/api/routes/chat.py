"""Streaming chat: NDJSON events ``start``, ``token``..., then ``done`` or ``error``."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from embedded_server.api.deps import BackendDep, SettingsDep
from embedded_server.backends import BackendError, ChatBackend
from embedded_server.config import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["chat"])


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=1_000_000)


class ChatRequest(BaseModel):
    model: str | None = Field(default=None, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    conversation_id: str | None = Field(default=None, max_length=64)
    system: str | None = Field(default=None, max_length=100_000)
    options: dict[str, Any] = Field(default_factory=dict)


@router.post("/chat")
async def chat(body: ChatRequest, backend: BackendDep, settings: SettingsDep) -> StreamingResponse:
    return StreamingResponse(_events(body, backend, settings), media_type="application/x-ndjson")


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode() + b"\n"


async def _events(
    body: ChatRequest, backend: ChatBackend, settings: Settings
) -> AsyncIterator[bytes]:
    conversation_id = body.conversation_id or uuid.uuid4().hex
    try:
        model = body.model or settings.default_model or await _first_model(backend)
    except BackendError as exc:
        yield _line({"type": "error", "message": str(exc)})
        return
    yield _line(
        {
            "type": "start",
            "model": model,
            "conversation_id": conversation_id,
            "message_id": uuid.uuid4().hex,
        }
    )
    messages = [m.model_dump() for m in body.messages]
    if not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": body.system or settings.system_prompt})
    started = time.perf_counter()
    first_token: float | None = None
    try:
        async for chunk in backend.chat_stream(model, messages, body.options):
            if chunk.content:
                if first_token is None:
                    first_token = time.perf_counter()
                yield _line({"type": "token", "content": chunk.content})
            if chunk.done:
                end = time.perf_counter()
                completion = chunk.completion_tokens or 0
                gen_s = end - (first_token or started)
                yield _line(
                    {
                        "type": "done",
                        "usage": {
                            "prompt_tokens": chunk.prompt_tokens,
                            "completion_tokens": completion,
                        },
                        "ttft_ms": round(((first_token or end) - started) * 1000, 1),
                        "tokens_per_second": round(completion / gen_s, 1) if gen_s > 0 else None,
                    }
                )
                return
    except BackendError as exc:
        log.warning("chat with %s failed: %s", model, exc)
        yield _line({"type": "error", "message": str(exc)})


async def _first_model(backend: ChatBackend) -> str:
    models = await backend.list_models()
    if not models:
        raise BackendError("the model runner has no models: pull or import one first")
    return models[0].name
