"""Rate limits per client: in memory, and shared through a real Redis server."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest
import redis
import yaml
from fastapi.testclient import TestClient

from embedded_server.api import deps
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.conftest import REPO, wait_for
from tests.fakes.ollama_double import OllamaDouble, free_port
from tests.server.conftest import AUTH, TOKEN, MakeClient, redis_test_url, require_service


def test_limit_gives_429_with_retry_after(make_client: MakeClient) -> None:
    client = make_client(rate_limit="3/minute")
    assert [client.get("/api/models", headers=AUTH).status_code for _ in range(3)] == [200] * 3
    refused = client.get("/api/models", headers=AUTH)
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate limit exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert client.get("/health").status_code == 200  # health and metrics are not limited
    assert client.get("/metrics").status_code == 200


def test_counting_drafts_uses_no_request_of_the_limit_and_has_its_own(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The composer's meter counts the draft as the user types: that never uses up the
    requests a caller may make (the send after typing must pass), and a wrong token gets
    no more tries on that route than on any other."""
    monkeypatch.setattr(deps, "DRAFT_COUNT_LIMIT", "5/minute")  # as 10/second, without a clock
    client = make_client(rate_limit="3/minute")
    draft = {"model": "llama3.2", "messages": [{"role": "user", "content": "a draft"}]}
    counted = [client.post("/api/chat/count", json=draft, headers=AUTH) for _ in range(5)]
    assert [r.status_code for r in counted] == [200] * 5
    assert client.post("/api/chat/count", json=draft, headers=AUTH).status_code == 429
    assert [client.get("/api/models", headers=AUTH).status_code for _ in range(3)] == [200] * 3
    wrong = {"Authorization": "Bearer wrong"}
    client = make_client(rate_limit="3/minute")
    refused = [client.post("/api/chat/count", json=draft, headers=wrong) for _ in range(4)]
    assert [r.status_code for r in refused] == [401, 401, 401, 429]


def test_default_limit_is_the_deployment_guides(make_client: MakeClient) -> None:
    client: TestClient = make_client(rate_limit="60/minute;1000/hour")
    codes = [client.get("/api/conversations", headers=AUTH).status_code for _ in range(61)]
    assert codes[:60] == [200] * 60 and codes[60] == 429


@pytest.fixture
def redis_url() -> str:
    return redis_test_url(1)  # the test server's own database, from zero


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
    ready = client.get("/ready", headers=AUTH)
    assert ready.status_code == 503
    assert ready.json()["checks"]["rate_limit_store"].startswith("unavailable")


def test_redis_going_away_and_coming_back(make_client: MakeClient, tmp_path: Path) -> None:
    """While Redis is away requests are let through (and /ready says why); once it is back
    the limits count again, without a restart of the server."""
    if shutil.which("redis-server") is None:
        require_service("ELITE_TEST_REDIS_URL", "redis-server")  # fails in CI, skips here
    port = free_port()

    def start_redis() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: _pings(port), 10, "redis-server to answer")
        return proc

    redis_server = start_redis()
    try:
        client = make_client(rate_limit="2/minute", redis_url=f"redis://127.0.0.1:{port}/0")
        codes = [client.get("/api/models", headers=AUTH).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        redis_server.terminate()
        redis_server.wait(timeout=10)
        codes = [client.get("/api/models", headers=AUTH).status_code for _ in range(3)]
        assert codes == [200, 200, 200]  # let through: an outage must not stop the assistant
        assert client.get("/ready").status_code == 503
        redis_server = start_redis()  # back, empty
        wait_for(lambda: client.get("/ready").status_code == 200, 15, "/ready to recover")
        codes = [client.get("/api/models", headers=AUTH).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
    finally:
        redis_server.terminate()
        redis_server.wait(timeout=10)


def _pings(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.parametrize("trusted", [True, False])
def test_forwarded_for_counts_only_from_a_trusted_proxy(
    make_client: MakeClient, trusted: bool
) -> None:
    """Behind a trusted proxy each client has its own counter (and /metrics is not served to
    them); from any other peer X-Forwarded-For is ignored: it cannot dodge the limit."""
    client = make_client(rate_limit="2/minute", trusted_proxies="127.0.0.1" if trusted else "")

    def get(path: str, address: str) -> int:
        headers = {**AUTH, "X-Forwarded-For": f"{address}, 127.0.0.1"}
        return int(client.get(path, headers=headers).status_code)

    assert [get("/api/models", "203.0.113.1") for _ in range(3)] == [200, 200, 429]
    assert get("/api/models", "203.0.113.2") == (200 if trusted else 429)
    assert get("/metrics", "203.0.113.2") == (403 if trusted else 200)


def shipped_proxy_ranges() -> list[tuple[str, str, str]]:
    """(where, range, an address inside it) of each ASSISTANT_TRUSTED_PROXIES we ship."""
    compose = yaml.safe_load((REPO / "packaging" / "compose" / "compose.yaml").read_text())
    kustomize = (REPO / "packaging" / "k8s" / "base" / "kustomization.yaml").read_text()
    ranges = [
        ("compose", compose["services"]["app"]["environment"]["ASSISTANT_TRUSTED_PROXIES"]),
        ("kubernetes", kustomize.split("ASSISTANT_TRUSTED_PROXIES=", 1)[1].split()[0]),
    ]
    return [(where, cidr, str(ipaddress.ip_network(cidr)[5])) for where, cidr in ranges]


@pytest.mark.parametrize(("where", "cidr", "inside"), shipped_proxy_ranges())
def test_the_shipped_proxy_ranges_are_believed_and_only_them(
    tmp_path: Path, double: OllamaDouble, where: str, cidr: str, inside: str
) -> None:
    """A proxy anywhere in the range we ship (uvicorn 0.31 and newer take networks; older
    ones compared addresses only and believed none of them) has its X-Forwarded-For
    believed; a peer outside it has not."""
    settings = Settings(
        api_token=TOKEN,
        backend_url=double.url,
        data_dir=tmp_path,
        rate_limit="1/minute",
        trusted_proxies=cidr,
    )
    for peer, believed in ((inside, True), ("192.0.2.7", False)):
        with TestClient(create_app(settings), client=(peer, 40000)) as client:

            def get(address: str, client: TestClient = client) -> int:
                headers = {**AUTH, "X-Forwarded-For": address}
                return int(client.get("/api/models", headers=headers).status_code)

            assert get("203.0.113.1") == 200
            assert get("203.0.113.2") == (200 if believed else 429), (where, peer)


def test_metrics_go_to_the_configured_clients_only(make_client: MakeClient) -> None:
    """Prometheus in a container network: its network may read /metrics, no one else."""
    client = make_client(trusted_proxies="127.0.0.1", metrics_clients="10.0.0.0/8")

    def scrape(address: str) -> int:
        return int(client.get("/metrics", headers={"X-Forwarded-For": address}).status_code)

    assert scrape("10.1.2.3") == 200
    assert scrape("203.0.113.9") == 403
    assert scrape("127.0.0.1") == 403  # not listed: not even this machine
