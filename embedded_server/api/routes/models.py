"""The runner's models."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException

from embedded_server.api.deps import BackendDep, MetricsDep
from embedded_server.api.schemas import ModelList, ModelPublic
from embedded_server.backends import BackendError
from embedded_server.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api", tags=["models"], responses=ERROR_RESPONSES)


@router.get("/models", response_model_exclude_none=True)
async def list_models(backend: BackendDep, metrics: MetricsDep) -> ModelList:
    try:
        models = await backend.list_models()
    except BackendError as exc:
        metrics.backend_up.set(0)
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    metrics.backend_up.set(1)
    return ModelList(models=[ModelPublic(**asdict(m)) for m in models])
