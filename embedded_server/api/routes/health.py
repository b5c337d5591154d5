"""Liveness, readiness and metrics, without authentication (the supervisor polls them).

``/ready`` names each check and says ``ok`` or ``unavailable``; why a check fails (which
can name a runner's inside URL or a database host) is for the admin token only."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from embedded_server.api.deps import BackendDep, MetricsDep, StoreDep, is_admin
from embedded_server.api.schemas import Health, Readiness
from embedded_server.config import in_networks
from embedded_server.errors import ERROR_RESPONSES, error_response
from embedded_server.metrics import ServerMetrics

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> Health:
    return Health(status="ok")


@router.get("/ready", responses={503: {"model": Readiness}})
async def ready(
    request: Request, backend: BackendDep, store: StoreDep, metrics: MetricsDep
) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await store.ping()
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = f"unavailable: {exc}"
    try:
        await backend.list_models()
        checks["backend"] = "ok"
        metrics.backend_up.set(1)
    except Exception as exc:
        checks["backend"] = str(exc)
        metrics.backend_up.set(0)
    limiter = request.app.state.limiter
    if limiter.shared:
        try:
            checks["rate_limit_store"] = "ok" if await limiter.check() else "unavailable"
        except Exception as exc:
            checks["rate_limit_store"] = f"unavailable: {exc}"
    ok = all(value == "ok" for value in checks.values())
    if not is_admin(request):
        checks = {name: "ok" if value == "ok" else "unavailable" for name, value in checks.items()}
    body = Readiness(status="ready" if ok else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 403: ERROR_RESPONSES[401]},
)
async def metrics_text(request: Request, metrics: MetricsDep) -> Response:
    """Prometheus text format; answered to ``ASSISTANT_METRICS_CLIENTS`` only (default:
    this machine)."""
    host = request.client.host if request.client else ""
    return metrics_answer(host, request.app.state.settings.metrics_clients, metrics)


def metrics_answer(client: str, clients: list[str], metrics: ServerMetrics) -> Response:
    """The metrics for ``client`` if it is one of ``clients``, else 403 (this route's
    answer, and the metrics port's)."""
    if not in_networks(client, clients):
        return error_response(403, "metrics are not served to this address")
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
