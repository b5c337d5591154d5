"""What a key's limits add to a request: checking and counting them in Redis.

Run: ``python -m tests.benchmarks.bench_quotas`` with ``ELITE_TEST_REDIS_URL`` naming a
Redis server (``bash packaging/bootstrap.sh bench`` starts one). For a key with every limit
set (models, max_tokens, parallel, tpm, tokens a day), one request's admission and its
release at the end, against the request rate limit's own check in the same run (which
every request already paid); p50/p95 over ``BENCH_RUNS`` requests. Aim: p95 <= 2 ms.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis

from embedded_server.key_limits import KeyLimits
from embedded_server.quotas import Quotas
from embedded_server.ratelimit import RateLimiter
from tests.benchmarks import save_results

RUNS = int(os.environ.get("BENCH_RUNS", "500"))
LIMITS = KeyLimits(
    models=("llama3.2",), tpm=10**9, tokens_per_day=10**9, parallel=1000, max_tokens=4096
)


async def timed(work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(20):  # warm: connections, scripts
        await work()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}


async def measure(url: str) -> dict[str, Any]:
    limiter = RateLimiter("1000000/minute", url)
    quotas = Quotas(limiter, KeyLimits())

    async def limits() -> None:
        quotas.options_for("bench", LIMITS, "llama3.2", {"temperature": 0.2})
        admitted = await quotas.admit("bench", LIMITS, 800)
        await quotas.release(admitted, 900)

    async def rate_limit() -> None:
        await limiter.retry_after("key:bench")

    return {"limits": await timed(limits), "rate_limit": await timed(rate_limit)}


def main() -> int:
    url = os.environ.get("ELITE_TEST_REDIS_URL")
    if not url:
        sys.stderr.write("set ELITE_TEST_REDIS_URL to a Redis server\n")
        return 2
    redis.Redis.from_url(url).flushdb()
    results = asyncio.run(measure(url))
    results["runs"] = RUNS
    limits, rate = results["limits"], results["rate_limit"]
    sys.stdout.write(
        f"a key's limits, admitted and released through Redis: {limits['p50_ms']:.2f} / "
        f"{limits['p95_ms']:.2f} ms p50 / p95 (aim p95 <= 2); the request rate limit's "
        f"check in the same run: {rate['p50_ms']:.2f} / {rate['p95_ms']:.2f} ms\n"
    )
    save_results("quotas", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
