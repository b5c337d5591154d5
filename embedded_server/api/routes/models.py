"""The runner's models."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException

from embedded_server.api.deps import BackendDep
from embedded_server.backends import BackendError

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models")
async def list_models(backend: BackendDep) -> dict[str, list[dict[str, Any]]]:
    try:
        models = await backend.list_models()
    except BackendError as exc:
        raise HTTPException(status_code=502, detail=str(exc)) from exc
    return {"models": [{k: v for k, v in asdict(m).items() if v is not None} for m in models]}
