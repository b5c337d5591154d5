"""Rate limits per caller (``limits``): in memory, or in Redis so that several server
replicas share their counters. A caller is an API key (its own limit, or the default), or
for the admin token and refused requests, the client's address."""

from __future__ import annotations

import functools
import logging
import time

import limits
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

log = logging.getLogger(__name__)
NAMESPACE = "elite-assistant"


class RateLimiter:
    """Request limits per caller, in memory or shared through Redis.

    Args:
    spec: the default limit, ``"60/minute;1000/hour"``; empty: none.
    redis_url: a ``redis://`` URL, or empty for in-memory counters.
    """

    def __init__(self, spec: str, redis_url: str = "") -> None:
        self.default = spec
        self.storage: Storage = (
            storage_from_string(f"async+{redis_url}")  # type: ignore[assignment]
            if redis_url
            else MemoryStorage()
        )
        self._strategy = MovingWindowRateLimiter(self.storage)
        self.shared = bool(redis_url)

    async def retry_after(self, caller: str, spec: str | None = None) -> float | None:
        """Count one request of ``caller`` against ``spec`` (default: the server's
        limit; ``""``: none); ``None`` if allowed, else seconds to wait.

        Should the shared store fail, the request is let through (and logged): a Redis
        outage must not take the assistant down with it.
        """
        try:
            for item in _parsed(self.default if spec is None else spec):
                if not await self._strategy.hit(item, NAMESPACE, caller):
                    stats = await self._strategy.get_window_stats(item, NAMESPACE, caller)
                    return max(1.0, stats.reset_time - time.time())
        except Exception as exc:  # storage errors come in many types (redis, network)
            log.warning("rate limit store unavailable, request allowed: %s", exc)
        return None

    async def blocked(self, caller: str, spec: str) -> float | None:
        """Seconds ``caller`` must wait before ``spec`` lets it in again, counting
        nothing (``None``: it may go on; a failing store lets it)."""
        try:
            for item in _parsed(spec):
                if not await self._strategy.test(item, NAMESPACE, caller):
                    stats = await self._strategy.get_window_stats(item, NAMESPACE, caller)
                    return max(1.0, stats.reset_time - time.time())
        except Exception as exc:
            log.warning("rate limit store unavailable, request allowed: %s", exc)
        return None

    async def check(self) -> bool:
        return bool(await self.storage.check())


@functools.lru_cache(maxsize=256)
def _parsed(spec: str) -> list[limits.RateLimitItem]:
    return limits.parse_many(spec) if spec else []
