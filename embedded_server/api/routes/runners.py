"""The runner pool's state, for the admin (``GET /api/runners``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from embedded_server.api.deps import require_admin
from embedded_server.api.schemas import RunnerList, RunnerPublic
from embedded_server.backends.pool import RunnerPool
from embedded_server.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api", tags=["runners"], responses=ERROR_RESPONSES)


@router.get("/runners", dependencies=[Depends(require_admin)])
async def list_runners(request: Request) -> RunnerList:
    """Each runner: its state, models, requests in flight and last error."""
    pool: RunnerPool = request.app.state.backend
    return RunnerList(
        runners=[
            RunnerPublic(
                name=r.name,
                url=r.url,
                kind=r.kind,
                weight=r.weight,
                state=r.state,
                models=sorted(r.models),
                in_flight=r.in_flight,
                requests=r.requests,
                failures=r.failures,
                last_error=r.last_error,
            )
            for r in pool.runners
        ]
    )
