"""The runner's models: installed, loaded, details, pull, delete, unload, import.

A runner's refusal is a JSON error with its status (the app's handler of
:class:`BackendError`): 404 for an unknown model or file, 409 for what this runner cannot
do (pulling into the built-in runner, importing into Ollama), 503 for a runner that does
not answer. Pull, import, unload and delete need the admin token (403 for an API key).
Pull and import answer NDJSON progress events; a failure once the stream has begun
arrives as an ``{"error": ...}`` event, as Ollama's own pull does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import StreamingResponse

from embedded_server.api.deps import (
    AdminDep,
    BackendDep,
    MetricsDep,
    ModelName,
    StoreDep,
    require_admin,
)
from embedded_server.api.schemas import (
    ImportRequest,
    LoadedModelList,
    LoadedModelPublic,
    ModelList,
    ModelPublic,
    PullRequest,
)
from embedded_server.backends import BackendError, ChatBackend, ModelInfo
from embedded_server.backends.base import ContextWindow
from embedded_server.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api", tags=["models"], responses=ERROR_RESPONSES)
# Changing the runners' models is the admin token's: an API key lists and uses them.
ADMIN_ONLY = [Depends(require_admin)]
NDJSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/x-ndjson": {}}, "description": "progress events"}
}


async def models_with_windows(backend: ChatBackend) -> list[ModelInfo]:
    """The runners' models, each with its context window (asked of the runner where its
    listing does not say; left out where it cannot say)."""
    models = await backend.list_models()
    unknown = [m for m in models if m.context_length is None]
    windows = await asyncio.gather(
        *(backend.context_window(m.name) for m in unknown), return_exceptions=True
    )
    known = {
        m.name: replace(m, context_length=w.tokens, trained_context_length=w.trained)
        for m, w in zip(unknown, windows, strict=True)
        if isinstance(w, ContextWindow)
    }
    return [known.get(m.name, m) for m in models]


@router.get("/models", response_model_exclude_none=True)
async def list_models(backend: BackendDep, metrics: MetricsDep, store: StoreDep) -> ModelList:
    """The runner's models, each with its context window and the number of conversations
    that use it."""
    try:
        models = await models_with_windows(backend)
    except BackendError:
        metrics.backend_up.set(0)
        raise  # 503, by the app's handler
    metrics.backend_up.set(1)
    uses = await store.conversations_per_model()
    public = [ModelPublic.model_validate(m) for m in models]
    for model in public:
        model.conversations = uses.get(model.name, 0)
    return ModelList(models=public)


@router.get("/models/loaded")
async def loaded_models(admin: AdminDep) -> LoadedModelList:
    models = await admin.loaded()
    return LoadedModelList(models=[LoadedModelPublic.model_validate(m) for m in models])


async def _events(stream: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    try:
        async for event in stream:
            yield json.dumps(event).encode() + b"\n"
    except BackendError as exc:
        yield json.dumps({"error": str(exc)}).encode() + b"\n"


async def _stream(stream: AsyncGenerator[dict[str, Any], None]) -> StreamingResponse:
    """Start ``stream`` before answering, so that an error before any progress is a
    proper status (404, 400, 503), not an event."""
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        first = None

    async def events() -> AsyncIterator[bytes]:
        async with contextlib.aclosing(stream):  # a client that leaves ends the runner's work
            if first is not None:
                yield json.dumps(first).encode() + b"\n"
            async for chunk in _events(stream):
                yield chunk

    return StreamingResponse(events(), media_type="application/x-ndjson")


@router.post(
    "/models/pull", response_class=StreamingResponse, responses=NDJSON, dependencies=ADMIN_ONLY
)
async def pull_model(body: PullRequest, admin: AdminDep) -> StreamingResponse:
    return await _stream(admin.pull(body.name))


@router.post(
    "/models/import", response_class=StreamingResponse, responses=NDJSON, dependencies=ADMIN_ONLY
)
async def import_model(body: ImportRequest, admin: AdminDep) -> StreamingResponse:
    return await _stream(admin.import_file(body.path, body.name))


@router.post("/models/{name:path}/unload", status_code=204, dependencies=ADMIN_ONLY)
async def unload_model(name: ModelName, admin: AdminDep) -> Response:
    await admin.unload(name)
    return Response(status_code=204)


@router.get("/models/{name:path}")
async def show_model(name: ModelName, admin: AdminDep) -> dict[str, Any]:
    return await admin.show(name)


@router.delete("/models/{name:path}", status_code=204, dependencies=ADMIN_ONLY)
async def delete_model(name: ModelName, admin: AdminDep) -> Response:
    await admin.delete(name)
    return Response(status_code=204)
