"""The Compose deployment: ``compose.yaml`` against Compose's schema (Debian's
docker-compose), and its nginx configuration checked by ``nginx -t`` and run for real in
front of the server (TLS, the guide's request limits, answers streamed through it).

Needs nginx (``nginx-light``), docker-compose and openssl; CI installs them.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.deploy.compose_nginx import COMPOSE, compose_nginx
from tests.deploy.test_monitoring import need
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

TOKEN = "compose-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def filled_env(tmp_path: Path) -> Path:
    """``.env.example`` with the secrets it asks for filled in."""
    text = (COMPOSE / ".env.example").read_text()
    secrets = (
        "ASSISTANT_API_TOKEN",
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    )
    for name in secrets:
        text = re.sub(rf"^{name}=$", f"{name}=secret-{name.lower()}", text, flags=re.M)
    env = tmp_path / ".env"
    env.write_text(text)
    return env


def compose_config(env: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need("docker-compose"), "--env-file", str(env), "-f", "compose.yaml", "config"],
        cwd=COMPOSE,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_passes_composes_schema_and_names_what_is_missing(tmp_path: Path) -> None:
    done = compose_config(filled_env(tmp_path))
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    services = config["services"]
    assert set(services) == {
        *("app", "backup", "postgres", "redis", "ollama", "nginx", "prometheus", "grafana"),
    }
    assert "backup create" in services["backup"]["command"][0]
    assert services["app"]["deploy"]["replicas"] == 2
    assert services["app"]["read_only"] is True
    assert "--requirepass" in services["redis"]["command"]  # a password on Redis too
    redis_url = services["app"]["environment"]["ASSISTANT_REDIS_URL"]
    assert redis_url == "redis://:secret-redis_password@redis:6379/0"
    assert "ASSISTANT_API_TOKEN" not in services["backup"]["environment"]  # it never uses it
    gpu = services["ollama"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
    for name, service in services.items():  # pinned images, never latest
        assert not service["image"].endswith(":latest") and ":" in service["image"], name
    example = (COMPOSE / ".env.example").read_text()
    for variable in set(re.findall(r"\$\{([A-Z_]+)", (COMPOSE / "compose.yaml").read_text())):
        assert re.search(rf"^{variable}=", example, re.M), f"{variable} is not in .env.example"

    empty = tmp_path / "empty.env"
    empty.write_text("")
    refused = compose_config(empty)
    assert refused.returncode != 0 and "set ASSISTANT_API_TOKEN in .env" in refused.stderr


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
    access = (tmp_path / "nginx" / "access.log").read_text()
    assert f"request_id={request_id}" in access


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
    assert "strict-transport-security" in httpx.get(f"{url}/health", verify=False).headers


def test_env_example_explains_every_variable() -> None:
    """Each variable (or group of variables) of .env.example comes under a comment."""
    lines = (COMPOSE / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            above = next(
                (ln for ln in reversed(lines[:index]) if not re.match(r"^[A-Z_]+=", ln)), ""
            )
            assert above.startswith("#"), f"{line.split('=')[0]} has no explanation"
