"""Application factory: settings and backend are injected, so tests pass their own.

At start the database is migrated (Alembic) and answers a dead server left ``streaming``
are marked ``incomplete``; a background probe keeps ``assistant_backend_up`` current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from embedded_server import __version__
from embedded_server.api.deps import require_token
from embedded_server.api.routes import chat, conversations, health, models, openai_compat
from embedded_server.backends import BackendError, ChatBackend, make_backend
from embedded_server.config import Settings
from embedded_server.db.engine import Database
from embedded_server.db.keys import KeyStore
from embedded_server.db.migrate import upgrade
from embedded_server.db.store import ConversationStore
from embedded_server.errors import install_error_handlers
from embedded_server.metrics import ServerMetrics
from embedded_server.middleware import ProtectionMiddleware
from embedded_server.ratelimit import RateLimiter
from embedded_server.services.chat import ChatService

log = logging.getLogger(__name__)
BACKEND_PROBE_S = 15.0


def create_app(settings: Settings | None = None, backend: ChatBackend | None = None) -> FastAPI:
    settings = settings or Settings()
    backend = backend or make_backend(settings)
    metrics = ServerMetrics()
    limiter = RateLimiter(settings.rate_limit, settings.redis_url.get_secret_value())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.sqlalchemy_url())
        await upgrade(database)
        store = ConversationStore(database)
        interrupted = await store.mark_interrupted()
        if interrupted:
            log.info("%d answer(s) cut short by a previous stop marked incomplete", interrupted)
        app.state.store = store
        app.state.keys = KeyStore(database)
        app.state.chat = ChatService(backend, store, metrics, settings)
        probe = asyncio.create_task(_probe_backend(backend, metrics), name="backend-probe")
        try:
            yield
        finally:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
            await backend.aclose()
            await database.dispose()

    app = FastAPI(
        title="Elite Coding Assistant",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # the CSP forbids the scripts the interactive docs need
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.backend = backend
    app.state.metrics = metrics
    app.state.limiter = limiter
    install_error_handlers(app)
    app.include_router(health.router)
    protected = [Depends(require_token)]
    for router in (chat.router, models.router, conversations.router, openai_compat.router):
        app.include_router(router, dependencies=protected)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        ProtectionMiddleware,
        metrics=metrics,
        limiter=limiter,
        max_body_bytes=settings.max_body_bytes,
    )
    return app


async def _probe_backend(backend: ChatBackend, metrics: ServerMetrics) -> None:
    while True:
        try:
            await backend.list_models()
            metrics.backend_up.set(1)
        except BackendError:
            metrics.backend_up.set(0)
        except Exception:
            log.exception("backend probe failed")
            metrics.backend_up.set(0)
        await asyncio.sleep(BACKEND_PROBE_S)
