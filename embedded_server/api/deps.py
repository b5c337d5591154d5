"""Shared dependencies of the routes (FastAPI ``Annotated`` aliases): the services
``app.py`` built, read from the app's state.

All ``async def``: FastAPI runs plain ``def`` dependencies in a thread pool.
"""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from embedded_server.api.schemas import NAME
from embedded_server.backends import ChatBackend
from embedded_server.backends.base import ModelAdmin
from embedded_server.config import Settings
from embedded_server.db.keys import Caller, KeyStore
from embedded_server.db.store import ConversationStore
from embedded_server.key_limits import KeyLimits
from embedded_server.metrics import ServerMetrics
from embedded_server.ratelimit import RateLimiter
from embedded_server.services.chat import ADMIN_LABEL, ChatService

_bearer = HTTPBearer(auto_error=False)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_backend(request: Request) -> ChatBackend:
    backend: ChatBackend = request.app.state.backend
    return backend


async def get_admin(request: Request) -> ModelAdmin:
    admin: ModelAdmin = request.app.state.backend  # every backend manages models too
    return admin


def owner(request: Request) -> str | None:
    """The API key's name the request came with (``None``: the admin token)."""
    name: str | None = getattr(request.state, "key_name", None)
    return name


async def get_store(request: Request) -> ConversationStore:
    """The conversations this request may see: its key's own, or (admin) all."""
    store: ConversationStore = request.app.state.store
    return store.scoped(owner(request))


async def get_metrics(request: Request) -> ServerMetrics:
    metrics: ServerMetrics = request.app.state.metrics
    return metrics


async def get_chat(request: Request) -> ChatService:
    """The chat service, storing into this request's key's conversations, within its
    limits."""
    chat: ChatService = request.app.state.chat
    limits: KeyLimits | None = getattr(request.state, "key_limits", None)
    return chat.scoped(owner(request), limits)


SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendDep = Annotated[ChatBackend, Depends(get_backend)]
AdminDep = Annotated[ModelAdmin, Depends(get_admin)]
StoreDep = Annotated[ConversationStore, Depends(get_store)]
MetricsDep = Annotated[ServerMetrics, Depends(get_metrics)]
ChatDep = Annotated[ChatService, Depends(get_chat)]

# Path parameters: bounded, and no control character (see schemas.NAME).
ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME)]
ModelName = Annotated[str, Path(min_length=1, max_length=256, pattern=NAME)]


async def require_token(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Who asks, and whether they may now.

    The admin token (compared in constant time) or a valid API key (checked in the
    database, so a revoked key is refused at once by every replica); no token configured =
    loopback-only dev mode. Then the rate limit: a key's own counter (its limit, or the
    default), the client address's for the admin token and for refused tokens.
    """
    expected = settings.api_token.get_secret_value()
    given = credentials.credentials if credentials else ""
    caller: Caller | None = None
    if expected and not secrets.compare_digest(given.encode(), expected.encode()):
        limiter: RateLimiter = request.app.state.limiter
        failures = f"failed-token:{request.client.host if request.client else 'unknown'}"
        limit = FAILED_TOKEN_LIMIT if settings.rate_limit else ""  # (off: none either)
        wait = await limiter.blocked(failures, limit)  # before the database is asked
        if wait is not None:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"too many wrong tokens from this address: try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        keys: KeyStore | None = getattr(request.app.state, "keys", None)
        caller = await keys.check(given) if keys is not None else None
        if caller is None:
            await limiter.retry_after(failures, limit)
            await _rate_limit(request, None)
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.key_name = caller.name
        request.state.key_limits = caller.limits
    metrics: ServerMetrics = request.app.state.metrics
    metrics.key_requests.labels(caller.name if caller else ADMIN_LABEL).inc()
    await _rate_limit(request, caller, accepted=True)


# Wrong tokens an address may try (each one costs a database query): past this, it is
# refused before the database is asked.
FAILED_TOKEN_LIMIT = "20/minute"

# A draft's count (the composer's meter, asked as the user types) is limited on its own,
# so that typing never uses up the requests a key may make.
DRAFT_COUNT_PATH = "/api/chat/count"
DRAFT_COUNT_LIMIT = "10/second"  # (a reference is fitted with three or four)


async def _rate_limit(request: Request, caller: Caller | None, accepted: bool = False) -> None:
    """Count the request against its key's limit, or (admin token, refused token) its
    client address's: the proxy's X-Forwarded-For when it is a trusted one. An
    ``accepted`` caller's draft count goes against :data:`DRAFT_COUNT_LIMIT` instead."""
    if caller is not None:
        counter, spec = f"key:{caller.name}", caller.rate_limit
    else:
        address = request.client.host if request.client else "unknown"
        counter, spec = f"addr:{address}", None
    if accepted and request.url.path == DRAFT_COUNT_PATH:
        counter, spec = f"draft:{counter}", DRAFT_COUNT_LIMIT
    limiter: RateLimiter = request.app.state.limiter
    wait = await limiter.retry_after(counter, spec)
    if wait is not None:
        seconds = math.ceil(wait)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail={"retry_after_s": seconds},
            headers={"Retry-After": str(seconds)},
        )


def is_admin(request: Request) -> bool:
    """Whether a request carries the admin token (or the server has none: loopback-only
    development), on a route that does not require a token."""
    settings: Settings = request.app.state.settings
    expected = settings.api_token.get_secret_value()
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return not expected or secrets.compare_digest(given.encode(), expected.encode())


async def require_admin(request: Request) -> None:
    """Only the admin token (``ASSISTANT_API_TOKEN``) passes, not an API key."""
    if owner(request) is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs the admin token")
