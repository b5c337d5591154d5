"""Rate limits per client: in memory, and shared through a real Redis server."""

from __future__ import annotations

import pytest
import redis
from fastapi.testclient import TestClient

from tests.server.conftest import AUTH, MakeClient, require_service


def test_limit_gives_429_with_retry_after(make_client: MakeClient) -> None:
    client = make_client(rate_limit="3/minute")
    assert [client.get("/api/models", headers=AUTH).status_code for _ in range(3)] == [200] * 3
    refused = client.get("/api/models", headers=AUTH)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate limit exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert client.get("/health").status_code == 200  # health and metrics are not limited
    assert client.get("/metrics").status_code == 200


def test_default_limit_is_the_deployment_guides(make_client: MakeClient) -> None:
    client: TestClient = make_client(rate_limit="60/minute;1000/hour")
    codes = [client.get("/api/conversations", headers=AUTH).status_code for _ in range(61)]
    assert codes[:60] == [200] * 60 and codes[60] == 429


@pytest.fixture
def redis_url() -> str:
    url = require_service("ELITE_TEST_REDIS_URL", "Redis server")
    redis.Redis.from_url(url).flushdb()  # the test server's own database: start from zero
    return url


def test_instances_share_counters_through_redis(make_client: MakeClient, redis_url: str) -> None:
    limit = "4/minute;1000/hour"
    first = make_client(rate_limit=limit, redis_url=redis_url)
    second = make_client(rate_limit=limit, redis_url=redis_url)
    assert first.get("/ready").json()["checks"]["rate_limit_store"] == "ok"
    codes = [c.get("/api/models", headers=AUTH).status_code for c in (first, second) * 2]
    assert codes == [200] * 4
    assert second.get("/api/models", headers=AUTH).status_code == 429
    assert first.get("/api/models", headers=AUTH).status_code == 429


def test_redis_outage_lets_requests_through(make_client: MakeClient) -> None:
    client = make_client(rate_limit="1/minute", redis_url="redis://127.0.0.1:9/0")
    assert [client.get("/api/models", headers=AUTH).status_code for _ in range(3)] == [200] * 3
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["rate_limit_store"].startswith("unavailable")
