"""A remote profile (``[stack] mode = "remote"``): the commands against a team's server
behind the Compose nginx (TLS with a certificate of the test's own), with an API key."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.conftest import Home
from tests.deploy.compose_nginx import compose_nginx
from tests.deploy.test_monitoring import need
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread
from tests.server.conftest import run_server

ADMIN = "remote-admin-token"


def server_command(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_server({**os.environ, "ASSISTANT_DATA_DIR": str(data)}, *args)


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """(nginx's https URL, its CA certificate, the server's data folder)."""
    need("nginx")
    need("openssl")
    data = tmp_path / "srv"
    for runner in serve_in_thread(build_app(OllamaDouble())):
        settings = Settings(
            api_token=ADMIN,
            backend_url=runner,
            data_dir=data,
            rate_limit="off",
            trusted_proxies="127.0.0.1",
        )
        for server in serve_in_thread(create_app(settings)):
            with compose_nginx(tmp_path / "nginx", server) as url:
                yield url, tmp_path / "nginx" / "certs" / "tls.crt", data


def test_the_commands_work_against_a_remote_server(
    home: Home, remote: tuple[str, Path, Path]
) -> None:
    url, ca, data = remote
    refused = home.cli("config", "set", "stack.mode", "remote")
    assert refused.returncode != 0 and "remote.url" in refused.stderr
    assert home.cli("config", "set", "remote.url", url).returncode == 0
    assert home.cli("config", "set", "stack.mode", "remote").returncode == 0

    no_key = home.cli("chat", "hi")
    assert no_key.returncode == 1 and "secrets set ASSISTANT_API_KEY" in no_key.stderr
    key = server_command(data, "keys", "create", "dev-laptop").stdout.strip()
    home.env["ASSISTANT_API_KEY"] = key

    untrusted = home.cli("chat", "hi")
    assert untrusted.returncode == 1 and "does not verify" in untrusted.stderr
    assert "ca_file" in untrusted.stderr and key not in untrusted.stderr
    assert home.cli("config", "set", "remote.ca_file", str(ca)).returncode == 0

    answer = home.cli("chat", "write a loop")
    assert answer.returncode == 0, answer.stderr
    assert "print('hi')" in answer.stdout  # the runner double's answer, through nginx
    listed = home.cli("conversations", "list")
    assert "write a loop" in listed.stdout
    models = home.cli("models", "list")
    assert models.returncode == 0 and "llama3.2" in models.stdout
    pull = home.cli("models", "pull", "qwen2.5-coder:7b")  # the admin's, not a key's
    assert pull.returncode == 1 and "needs the admin token" in pull.stderr
    status = home.cli("stack", "status")
    assert status.returncode == 0 and f"remote {url}: ready" in status.stdout
    up = home.cli("stack", "up")
    assert up.returncode == 1 and "nothing runs on this machine" in up.stderr
    assert not home.processes()  # nothing was started here

    assert server_command(data, "keys", "revoke", "dev-laptop").returncode == 0
    revoked = home.cli("chat", "again")
    assert revoked.returncode == 1 and "refused the key" in revoked.stderr
    assert key not in revoked.stdout + revoked.stderr
