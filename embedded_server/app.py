"""Application factory: settings and backend are injected, so tests pass their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from embedded_server import __version__
from embedded_server.api.deps import require_token
from embedded_server.api.routes import chat, health, models
from embedded_server.backends import ChatBackend, make_backend
from embedded_server.config import Settings


def create_app(settings: Settings | None = None, backend: ChatBackend | None = None) -> FastAPI:
    settings = settings or Settings()
    backend = backend or make_backend(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await backend.aclose()

    app = FastAPI(title="Elite Coding Assistant", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.backend = backend
    app.include_router(health.router)
    protected = [Depends(require_token)]
    app.include_router(models.router, dependencies=protected)
    app.include_router(chat.router, dependencies=protected)
    return app
