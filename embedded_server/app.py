"""Application factory: the one place the server's parts are built from its settings.

At start the database is migrated (Alembic) and answers a dead server left ``streaming``
are marked ``incomplete`` (on a shared database, where other replicas may be streaming,
those left unwritten for :data:`SILENT_ANSWER_S`, then every minute); the runner pool's
health checks start (and keep
``assistant_backend_up`` and the per-runner series current).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from embedded_server import __version__
from embedded_server.api.deps import require_admin, require_token
from embedded_server.api.routes import (
    chat,
    conversations,
    health,
    keys,
    models,
    openai_compat,
    runners,
)
from embedded_server.backends import make_pool
from embedded_server.config import Settings
from embedded_server.db.engine import Database
from embedded_server.db.keys import KeyStore
from embedded_server.db.migrate import upgrade
from embedded_server.db.store import ConversationStore
from embedded_server.db.usage import UsageStore
from embedded_server.errors import install_error_handlers
from embedded_server.metrics import ServerMetrics
from embedded_server.middleware import MetricsPortMiddleware, ProtectionMiddleware
from embedded_server.quotas import Quotas
from embedded_server.ratelimit import RateLimiter
from embedded_server.services.chat import ChatService

log = logging.getLogger(__name__)
SILENT_ANSWER_S = 120.0  # a streaming answer is written every FLUSH_INTERVAL_S while tokens come
SWEEP_INTERVAL_S = 60.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = ServerMetrics()
    pool = make_pool(settings, metrics)
    limiter = RateLimiter(settings.rate_limit, settings.redis_url.get_secret_value())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.sqlalchemy_url())
        await upgrade(database)
        store = ConversationStore(database)
        # On a shared database other replicas may be streaming: only silent answers.
        silent_for = SILENT_ANSWER_S if database.dialect != "sqlite" else None
        await _mark_interrupted(store, silent_for)
        sweep = asyncio.create_task(_sweep(store, silent_for), name="interrupted-answers")
        app.state.store = store
        app.state.keys = KeyStore(database)
        quotas = Quotas(limiter, settings.key_defaults)
        app.state.usage = UsageStore(database)
        app.state.chat = ChatService(
            pool,
            store,
            metrics,
            settings,
            keys=app.state.keys,
            quotas=quotas,
            usage=app.state.usage,
        )
        pool.start()
        try:
            yield
        finally:
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
            await pool.aclose()
            await database.dispose()

    app = FastAPI(
        title="Elite Coding Assistant",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # the CSP forbids the scripts the interactive docs need
        redoc_url=None,
        openapi_url="/openapi.json" if settings.openapi_public else None,
    )
    if not settings.openapi_public:

        @app.get(
            "/openapi.json",
            include_in_schema=False,
            dependencies=[Depends(require_token), Depends(require_admin)],
        )
        async def openapi_for_the_admin() -> JSONResponse:
            return JSONResponse(app.openapi())

    app.state.settings = settings
    app.state.backend = pool
    app.state.metrics = metrics
    app.state.limiter = limiter
    install_error_handlers(app)
    app.include_router(health.router)
    protected = [Depends(require_token)]
    routers = (chat, models, conversations, openai_compat, runners, keys)
    for router in (module.router for module in routers):
        app.include_router(router, dependencies=protected)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        ProtectionMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes
    )
    if settings.allowed_hosts != ["*"]:  # a wrong Host: 400, before anything else reads it
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    if settings.trusted_proxies:  # outermost: every part sees the client's own address
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    if settings.metrics_port:
        app.add_middleware(
            MetricsPortMiddleware,
            metrics=metrics,
            port=settings.metrics_port,
            clients=settings.metrics_clients,
        )
    return app


async def _mark_interrupted(store: ConversationStore, silent_for: float | None) -> None:
    try:
        count = await store.mark_interrupted(silent_for)
    except Exception:  # a database hiccup: the next sweep tries again
        log.exception("could not mark interrupted answers")
    else:
        if count:
            log.info("%d answer(s) cut short by a stopped server marked incomplete", count)


async def _sweep(store: ConversationStore, silent_for: float | None) -> None:
    """Every minute, on a shared database (a replica may die at any time)."""
    while silent_for is not None:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        await _mark_interrupted(store, silent_for)
