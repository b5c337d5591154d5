"""The OpenAI-compatible API (``/v1``) that coding tools speak: chat completions and
completions (with ``suffix``: fill-in-the-middle, editors' autocompletion), streamed as
server-sent events or not, embeddings, and the models.

An answer is the same relay as ``/api/chat`` (stored as a conversation, measured, cut
short cleanly when the client leaves); only the format differs. A failure before the
first token is an HTTP error in OpenAI's shape (404 for an unknown model); one later ends
the stream with an ``error`` event, which the official client raises.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from embedded_server.api.deps import BackendDep, ChatDep
from embedded_server.api.openai_schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    GenerationFields,
)
from embedded_server.api.routes.models import models_with_windows
from embedded_server.api.streaming import RelayResponse
from embedded_server.backends.base import RequestRejected
from embedded_server.errors import OPENAI_ERROR_RESPONSES, openai_error
from embedded_server.services.chat import Relay

router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERROR_RESPONSES)
STATUS_OF_CODE = {"model_not_found": 404, "invalid_request": 400}
ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {}, "text/event-stream": {}},
        "description": "The whole answer, or (``stream``) server-sent chunks then [DONE]",
    }
}
CUT_SHORT = {"type": "error", "message": "the answer ended early", "code": "internal"}


@router.get("/models")
async def list_models(backend: BackendDep) -> dict[str, Any]:
    """OpenAI's model list, each with its window: ``context_length`` (what it runs with:
    the most a prompt and its answer may take) and ``trained_context_length``."""
    models = await models_with_windows(backend)
    return {
        "object": "list",
        "data": [
            {
                "id": m.name,
                "object": "model",
                "created": 0,
                "owned_by": "local",
                "context_length": m.context_length,
                "trained_context_length": m.trained_context_length,
            }
            for m in models
        ],
    }


@router.post("/chat/completions", response_model=None, responses=ANSWER)
async def chat_completions(body: ChatCompletionRequest, service: ChatDep) -> Response:
    relay = await service.start(
        [(m.plain_role(), m.text()) for m in body.messages],
        None,
        body.model,
        None,
        body.options(body.max_completion_tokens or body.max_tokens),
        default_system=False,
        record=service.settings.record_openai,
    )
    return await _respond(relay, body, chat=True)


@router.post("/completions", response_model=None, responses=ANSWER)
async def completions(body: CompletionRequest, service: ChatDep) -> Response:
    relay = await service.complete(
        body.prompt_text(), body.suffix, body.model, body.options(body.max_tokens)
    )
    return await _respond(relay, body, chat=False)


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, service: ChatDep) -> dict[str, Any]:
    """OpenAI's embeddings: each input's vector, of unit length, in the inputs' order.
    ``dimensions`` below the model's keeps the first ones, made unit length again (what
    models trained for it, such as nomic-embed-text, expect); above it is refused."""
    embedded = await service.embed(body.model, body.texts())
    vectors = [_shaped(vector, body.dimensions, body.model) for vector in embedded.vectors]
    tokens = embedded.prompt_tokens
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encoded(v, body.encoding_format)}
            for i, v in enumerate(vectors)
        ],
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _shaped(vector: list[float], dimensions: int | None, model: str) -> list[float]:
    """``vector`` cut to ``dimensions`` (when asked) and scaled to unit length."""
    if dimensions is not None:
        if dimensions > len(vector):
            raise RequestRejected(
                f"dimensions: {model} makes {len(vector)}-dimensional embeddings, not {dimensions}"
            )
        vector = vector[:dimensions]
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    """Floats, or (``base64``, what the official client asks) little-endian float32."""
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


async def _respond(relay: Relay, body: GenerationFields, chat: bool) -> Response:
    """The relay's answer as OpenAI's response: an error before any text is an HTTP
    error; then a stream of chunks, or the whole answer."""
    events = relay.events()
    first = await _first_content(events)
    if first["type"] == "error":
        await relay.close()
        code = str(first["code"])
        return openai_error(STATUS_OF_CODE.get(code, 503), str(first["message"]), code)
    completion = _Completion(relay, body.model, chat)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        sse = completion.chunks(first, events, include_usage)
        return RelayResponse(relay, sse, media_type="text/event-stream")
    try:
        text, last = await _collect(first, events)
    finally:
        await relay.close()
    if last["type"] == "error":  # mid-answer: the partial answer is kept, stored
        return openai_error(503, str(last["message"]), str(last["code"]))
    return JSONResponse(completion.whole(text, last))


async def _collect(
    first: dict[str, Any], events: AsyncIterator[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """The answer's text and its last event (``done`` or ``error``)."""
    parts, event = [], first
    while event["type"] == "token":
        parts.append(event["content"])
        event = await anext(events, CUT_SHORT)
    return "".join(parts), event


async def _first_content(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    """The first event past ``start``: text, the end, or a failure."""
    async for event in events:
        if event["type"] != "start":
            return event
    return {"type": "error", "message": "the answer ended without a word", "code": "internal"}


class _Completion:
    """One answer written as OpenAI's ``chat.completion`` (or ``text_completion``) or its
    chunks."""

    def __init__(self, relay: Relay, model: str, chat: bool) -> None:
        self.chat = chat
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{relay.answer.message_id}"
        self.created = int(time.time())
        self.model = relay.answer.model or model
        self.object = "chat.completion" if chat else "text_completion"
        self.chunk_object = "chat.completion.chunk" if chat else "text_completion"

    def _base(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def _choice(self, text: str | None, finish: str | None, whole: bool = False) -> dict[str, Any]:
        if not self.chat:
            return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
        if whole:
            message = {"role": "assistant", "content": text}
            return {"index": 0, "message": message, "finish_reason": finish}
        delta = {} if text is None else {"content": text}
        return {"index": 0, "delta": delta, "finish_reason": finish}

    def _chunk(self, text: str | None, finish: str | None = None) -> bytes:
        return _sse({**self._base(self.chunk_object), "choices": [self._choice(text, finish)]})

    async def chunks(
        self,
        first: dict[str, Any],
        events: AsyncIterator[dict[str, Any]],
        include_usage: bool,
    ) -> AsyncIterator[bytes]:
        if self.chat:
            yield _sse(
                {
                    **self._base(self.chunk_object),
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                        }
                    ],
                }
            )
        event = first
        while True:
            if event["type"] == "token":
                yield self._chunk(event["content"])
            elif event["type"] == "done":
                yield self._chunk(None, "stop")
                if include_usage:
                    yield _sse(
                        {
                            **self._base("chat.completion.chunk"),
                            "choices": [],
                            "usage": _usage(event),
                        }
                    )
                yield b"data: [DONE]\n\n"
                return
            else:  # the runner failed mid-answer: the client raises this
                yield _sse(
                    {
                        "error": {
                            "message": event["message"],
                            "type": "server_error",
                            "param": None,
                            "code": event["code"],
                        }
                    }
                )
                return
            event = await anext(events, CUT_SHORT)

    def whole(self, text: str, done: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._base(self.object),
            "choices": [self._choice(text, "stop", whole=True)],
            "usage": _usage(done),
        }


def _usage(done: dict[str, Any]) -> dict[str, int]:
    prompt = int(done["usage"].get("prompt_tokens") or 0)
    completion = int(done["usage"].get("completion_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _sse(body: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"
