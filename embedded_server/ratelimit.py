"""Per-client rate limits (``limits``): in memory, or in Redis so that several server
instances share their counters."""

from __future__ import annotations

import logging
import time

import limits
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

log = logging.getLogger(__name__)
NAMESPACE = "elite-assistant"


class RateLimiter:
    """Per-client request limits, in memory or shared through Redis.

    Args:
    spec: ``"60/minute;1000/hour"``.
    redis_url: a ``redis://`` URL, or empty for in-memory counters.
    """

    def __init__(self, spec: str, redis_url: str = "") -> None:
        self.items = limits.parse_many(spec) if spec else []
        self.storage: Storage = (
            storage_from_string(f"async+{redis_url}")  # type: ignore[assignment]
            if redis_url
            else MemoryStorage()
        )
        self._strategy = MovingWindowRateLimiter(self.storage)
        self.shared = bool(redis_url)

    async def retry_after(self, client: str) -> float | None:
        """Count one request of ``client``; ``None`` if allowed, else seconds to wait.

        Should the shared store fail, the request is let through (and logged): a Redis
        outage must not take the assistant down with it.
        """
        try:
            for item in self.items:
                if not await self._strategy.hit(item, NAMESPACE, client):
                    stats = await self._strategy.get_window_stats(item, NAMESPACE, client)
                    return max(1.0, stats.reset_time - time.time())
        except Exception as exc:  # storage errors come in many types (redis, network)
            log.warning("rate limit store unavailable, request allowed: %s", exc)
        return None

    async def check(self) -> bool:
        return bool(await self.storage.check())
