"""The server and its runner pool as a caller sees them (``/api/info``, ``/api/runners``).

Any valid key may read both: a developer's panel shows which runner is down. A runner's
URL and its last error's text (the cluster's inside) are shown to the admin token only: a
key sees null, and "unavailable" for an error.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from embedded_server import __version__
from embedded_server.api.deps import owner
from embedded_server.api.schemas import RunnerList, RunnerPublic, ServerInfo
from embedded_server.backends.pool import RunnerPool
from embedded_server.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api", tags=["runners"], responses=ERROR_RESPONSES)


@router.get("/info")
async def server_info(request: Request) -> ServerInfo:
    """The server's version and who the caller is (an API key's name, or the admin)."""
    key = owner(request)
    return ServerInfo(version=__version__, key=key, admin=key is None)


@router.get("/runners")
async def list_runners(request: Request) -> RunnerList:
    """Each runner: its state, models, requests in flight and last error."""
    pool: RunnerPool = request.app.state.backend
    admin = owner(request) is None
    return RunnerList(
        runners=[
            RunnerPublic(
                name=r.name,
                url=r.url if admin else None,
                kind=r.kind,
                weight=r.weight,
                state=r.state,
                models=sorted(r.models),
                in_flight=r.in_flight,
                slots=r.slots,
                queued=pool.queued_for(r),
                requests=r.requests,
                failures=r.failures,
                last_error=r.last_error if admin or not r.last_error else "unavailable",
            )
            for r in pool.runners
        ]
    )
