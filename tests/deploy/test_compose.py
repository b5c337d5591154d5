"""The Compose deployment: ``compose.yaml`` against Compose's schema (Debian's
docker-compose), and its nginx configuration checked by ``nginx -t`` and run for real in
front of the server (TLS, the guide's request limits, answers streamed through it).

Needs nginx (``nginx-light``), docker-compose and openssl; CI installs them.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.conftest import wait_for
from tests.deploy.compose_nginx import COMPOSE, compose_nginx
from tests.deploy.test_monitoring import need
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

TOKEN = "compose-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def compose_config() -> dict[str, Any]:
    """``compose.yaml`` as Compose reads it with ``.env.example``'s values."""
    done = subprocess.run(
        [need("docker-compose"), "--env-file", ".env.example", "-f", "compose.yaml", "config"],
        cwd=COMPOSE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def test_compose_file_passes_composes_schema() -> None:
    services = compose_config()["services"]
    assert set(services) == {
        *("app", "backup", "postgres", "redis", "ollama", "nginx"),
        *("prometheus", "alertmanager", "grafana"),
    }
    assert "backup create" in services["backup"]["command"][0]
    assert services["app"]["deploy"]["replicas"] == 2
    assert services["app"]["read_only"] is True
    gpu = services["ollama"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
    for name, service in services.items():  # pinned images, never latest
        assert not service["image"].endswith(":latest") and ":" in service["image"], name
    example = (COMPOSE / ".env.example").read_text()
    for variable in set(re.findall(r"\$\{([A-Z_]+)", (COMPOSE / "compose.yaml").read_text())):
        assert re.search(rf"^{variable}=", example, re.M), f"{variable} is not in .env.example"


SECRET_WORDS = re.compile(r"PASSWORD|TOKEN|SECRET|_URL$|CREDENTIALS")


def test_every_service_is_hardened_and_gets_only_its_secrets_as_files() -> None:
    services = compose_config()["services"]
    for name, service in services.items():
        assert service["cap_drop"] == ["ALL"] and "cap_add" not in service, name
        assert "no-new-privileges:true" in service["security_opt"], name
        for variable in service.get("environment", {}):
            if SECRET_WORDS.search(variable) and not variable.endswith("_FILE"):
                # only the runners' and a bucket's addresses, never a secret's value
                assert variable in ("ASSISTANT_BACKEND_URL", "AWS_ENDPOINT_URL"), (name, variable)
    # non-root wherever the image allows: ours (USER 10001), its own user, or the image's
    root_by_default = {"postgres", "redis"}
    assert {services[n].get("user") for n in root_by_default} == {"postgres", "redis"}
    assert services["nginx"]["image"].startswith("nginxinc/nginx-unprivileged:")
    assert "user" not in services["ollama"]  # its image keeps its models under /root
    secrets = {
        name: {s["source"] if isinstance(s, dict) else s for s in service.get("secrets", [])}
        for name, service in services.items()
    }
    assert secrets == {
        "app": {"api_token", "database_url", "redis_url"},
        "backup": {"database_url", "aws_credentials"},  # no API token: it never uses it
        "postgres": {"postgres_password"},
        "redis": {"redis.conf"},
        "grafana": {"grafana_admin_password"},
        **{name: set() for name in ("ollama", "nginx", "prometheus", "alertmanager")},
    }


def test_only_the_replicas_reach_ollama_and_nginx_never_the_metrics() -> None:
    config = compose_config()
    services, networks = config["services"], config["networks"]
    members = {
        network: {name for name, s in services.items() if network in s["networks"]}
        for network in networks
    }
    assert members["runners"] == {"app", "ollama"} and networks["runners"]["internal"] is True
    assert members["ollama-egress"] == {"ollama"}  # model pulls: no other service there
    assert set(services["ollama"]["networks"]) == {"runners", "ollama-egress"}
    assert "ports" not in services["ollama"]
    assert members["data"] == {"app", "backup", "postgres", "redis"}
    assert networks["data"]["internal"] is True
    assert "nginx" not in members["monitoring"] and "prometheus" not in members["edge"]
    app = services["app"]["environment"]
    monitoring = networks["monitoring"]["ipam"]["config"][0]["subnet"]
    assert app["ASSISTANT_METRICS_CLIENTS"] == monitoring
    scrape = yaml.safe_load((COMPOSE.parent / "monitoring" / "prometheus.yml").read_text())
    targets = next(
        job["static_configs"][0]["targets"]
        for job in scrape["scrape_configs"]
        if job["job_name"] == "elite-coding-assistant"
    )
    assert targets == [f"app:{app['ASSISTANT_METRICS_PORT']}"]


def test_make_secrets_writes_files_that_work_together(tmp_path: Path) -> None:
    """``make-secrets.sh`` in a copy of the folder: its files 0644 in a 0700 folder, kept
    when run again; Debian's redis-server started with the Compose service's own command
    asks for the password in ``redis.conf``, which ``redis_url`` carries."""
    import redis

    from tests.fakes.ollama_double import free_port

    folder = tmp_path / "compose"
    shutil.copytree(COMPOSE, folder, ignore=shutil.ignore_patterns("secrets", "certs", ".env"))
    subprocess.run(["sh", str(folder / "make-secrets.sh")], check=True, capture_output=True)
    secrets = folder / "secrets"
    assert oct(secrets.stat().st_mode & 0o777) == "0o700"
    before = {p.name: p.read_text() for p in secrets.iterdir()}
    assert {oct(p.stat().st_mode & 0o777) for p in secrets.iterdir()} == {"0o644"}
    subprocess.run(["sh", str(folder / "make-secrets.sh")], check=True, capture_output=True)
    assert {p.name: p.read_text() for p in secrets.iterdir()} == before  # nothing replaced
    password = before["postgres_password"].strip()
    assert before["database_url"].strip() == f"postgresql://elite:{password}@postgres:5432/elite"

    service = compose_config()["services"]["redis"]
    port = free_port()
    argv = [
        need("redis-server"),
        *[
            str(secrets / "redis.conf") if a == "/run/secrets/redis.conf" else a
            for a in service["command"][1:]
        ],
        *("--port", str(port), "--bind", "127.0.0.1"),
    ]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    url = before["redis_url"].strip().replace("@redis:6379", f"@127.0.0.1:{port}")
    try:
        wait_for(lambda: _pings(url), 15, "redis-server")
        anonymous = redis.Redis(port=port)
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _pings(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def behind_nginx(tmp_path: Path) -> Iterator[tuple[str, str, OllamaDouble]]:
    """(nginx's https URL, the server's own URL, the runner double)."""
    need("nginx")
    need("openssl")
    double = OllamaDouble()
    double.answer = " ".join(f"w{i}" for i in range(20))
    for runner_url in serve_in_thread(build_app(double)):
        double.url = runner_url
        settings = Settings(
            api_token=TOKEN,
            backend_url=runner_url,
            data_dir=tmp_path / "srv",
            rate_limit="off",
            trusted_proxies="127.0.0.1",
        )
        for server in serve_in_thread(create_app(settings)):
            with compose_nginx(tmp_path / "nginx", server) as url:
                yield url, server, double


def test_answers_stream_through_nginx_token_by_token(
    behind_nginx: tuple[str, str, OllamaDouble], tmp_path: Path
) -> None:
    """nginx buffers /api/ as the guide says, yet the first token comes through while the
    runner is still writing the answer (the server's X-Accel-Buffering: no)."""
    url, _server, double = behind_nginx
    double.delay_s = 0.1  # 2 s answers
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    with (
        httpx.Client(verify=False, timeout=30) as client,
        client.stream("POST", f"{url}/api/chat", json=body, headers=AUTH) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()
        while json.loads(next(lines))["type"] != "token":
            pass
        finished_when_first_token_came = double.streams_finished
        assert json.loads(list(lines)[-1])["type"] == "done"
        request_id = response.headers["x-request-id"]
    assert finished_when_first_token_came == 0
    # one id across nginx, the replica and the runner: nginx's, in its access line
    assert re.fullmatch(r"[0-9a-f]{32}", request_id) and double.request_ids[-1] == request_id
    # nginx writes the line once the request is finalised, which may be after the client
    # read the last byte
    access = tmp_path / "nginx" / "access.log"
    wait_for(lambda: f"request_id={request_id}" in access.read_text(), 10, "nginx's access line")


def test_nginx_terminates_tls_limits_requests_and_hides_metrics(
    behind_nginx: tuple[str, str, OllamaDouble],
) -> None:
    url, server, _double = behind_nginx
    assert httpx.get(f"{url}/metrics", verify=False).status_code == 404
    assert "http_requests_total" in httpx.get(f"{server}/metrics").text  # direct: loopback

    async def burst() -> list[int]:  # 60 at once: the limit is seen however slow the machine
        async with httpx.AsyncClient(verify=False, timeout=30) as client:
            sent = [client.get(f"{url}/api/models", headers=AUTH) for _ in range(60)]
            return [response.status_code for response in await asyncio.gather(*sent)]

    codes = asyncio.run(burst())
    # 10/s with bursts of 20: the burst passes, and the rest (all but what refills while
    # they arrive) is refused
    assert codes.count(200) >= 20 and codes.count(429) >= 10 and set(codes) == {200, 429}


def test_nginx_sends_the_guides_security_headers_once_on_every_answer(
    behind_nginx: tuple[str, str, OllamaDouble],
) -> None:
    url = behind_nginx[0]
    expected = {
        "strict-transport-security": "max-age=31536000; includeSubDomains",
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
        "permissions-policy": "geolocation=(), microphone=(), camera=()",
    }
    with httpx.Client(verify=False, timeout=10) as client:
        answers = {
            "a replica's": client.get(f"{url}/health"),
            "a replica's error": client.get(f"{url}/api/models"),  # 401
            "nginx's own": client.get(f"{url}/metrics"),  # 404
        }
    assert [a.status_code for a in answers.values()] == [200, 401, 404]
    for what, answer in answers.items():
        for header, value in expected.items():
            assert answer.headers.get_list(header) == [value], (what, header)


def test_env_example_explains_every_variable() -> None:
    """Each variable (or group of variables) of .env.example comes under a comment."""
    lines = (COMPOSE / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            above = next(
                (ln for ln in reversed(lines[:index]) if not re.match(r"^[A-Z_]+=", ln)), ""
            )
            assert above.startswith("#"), f"{line.split('=')[0]} has no explanation"
