"""Liveness and readiness, without authentication (the supervisor polls them)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from embedded_server.api.deps import BackendDep
from embedded_server.backends import BackendError

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(backend: BackendDep) -> JSONResponse:
    try:
        await backend.list_models()
    except BackendError as exc:
        return JSONResponse(
            {"status": "not ready", "checks": {"backend": str(exc)}}, status_code=503
        )
    return JSONResponse({"status": "ready", "checks": {"backend": "ok"}})
