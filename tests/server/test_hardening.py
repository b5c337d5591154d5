"""Hardened defaults, each against the running code: a NUL in any query parameter is a 422
before any route (PostgreSQL would refuse it with a 500), and archives are 0600 whatever
the umask."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embedded_server.backups.archive import Source
from embedded_server.backups.folder import ArchiveFolder
from embedded_server.backups.manifest import Manifest
from tests.server.conftest import AUTH, MakeClient


def test_a_nul_in_a_query_parameter_is_refused_before_any_route(client: TestClient) -> None:
    for path in ("/api/conversations?q=%00", "/api/conversations?before=a%00b"):
        answer = client.get(path, headers=AUTH)
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_request"
    openai = client.get("/v1/models?x=%00", headers=AUTH)
    assert openai.status_code == 422 and "NUL" in openai.json()["error"]["message"]
    assert client.get("/api/conversations?q=ok", headers=AUTH).status_code == 200


def test_archives_are_written_0600_whatever_the_umask(tmp_path: Path) -> None:
    def contents(staging: Path, created: datetime) -> tuple[list[Source], Manifest]:
        (staging / "note.txt").write_text("a conversation\n")
        manifest = Manifest("1", None, "host", created.isoformat(), {"kind": "none"}, False, [], 0)
        return [Source("note.txt", staging / "note.txt")], manifest

    previous = os.umask(0o022)
    try:
        made = ArchiveFolder(tmp_path).create(contents)
    finally:
        os.umask(previous)
    assert oct(made.path.stat().st_mode & 0o777) == "0o600"


def test_wrong_tokens_are_refused_before_the_database_past_a_limit(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embedded_server.api import deps

    client = make_client(rate_limit="1000/minute")
    keys = client.app.state.keys  # type: ignore[attr-defined]
    asked: list[str] = []
    real_check = keys.check

    async def counted(token: str) -> Any:
        asked.append(token)
        return await real_check(token)

    monkeypatch.setattr(keys, "check", counted)
    monkeypatch.setattr(deps, "FAILED_TOKEN_LIMIT", "5/minute")
    wrong = {"Authorization": "Bearer eca_not-a-key-of-this-server"}
    codes = [client.get("/api/models", headers=wrong).status_code for _ in range(8)]
    assert codes == [401] * 5 + [429] * 3
    assert len(asked) == 5  # the last three never reached the database
    assert client.get("/api/models", headers=AUTH).status_code == 200  # the admin token still


def test_secrets_are_read_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from embedded_server.config import Settings

    token = tmp_path / "token"
    token.write_text("t0ken-from-a-file\n", encoding="utf-8")
    database = tmp_path / "database_url"
    database.write_text(f"sqlite:///{tmp_path / 'a.db'}", encoding="utf-8")
    for name in ("ASSISTANT_API_TOKEN", "ASSISTANT_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASSISTANT_API_TOKEN_FILE", str(token))
    monkeypatch.setenv("ASSISTANT_DATABASE_URL_FILE", str(database))
    settings = Settings()
    assert settings.api_token.get_secret_value() == "t0ken-from-a-file"  # (its newline cut)
    assert settings.database_url.get_secret_value().endswith("a.db")

    monkeypatch.setenv("ASSISTANT_API_TOKEN", "another")  # both ways: refused, said why
    with pytest.raises((ValueError, ValidationError), match="ASSISTANT_API_TOKEN_FILE, not both"):
        Settings()
    monkeypatch.delenv("ASSISTANT_API_TOKEN")
    monkeypatch.setenv("ASSISTANT_API_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises((ValueError, ValidationError), match="cannot read"):
        Settings()


def test_the_openapi_schema_is_the_admins_where_not_public(make_client: MakeClient) -> None:
    from tests.server.conftest import TOKEN

    public = make_client()
    assert public.get("/openapi.json").status_code == 200  # a desktop's server: anyone's
    closed = make_client(openapi_public=False)  # the shipped Compose and Kubernetes files
    assert closed.get("/openapi.json").status_code == 401
    key = closed.post("/api/keys", json={"name": "dev"}, headers=AUTH).json()["key"]
    as_key = {"Authorization": f"Bearer {key}"}
    assert closed.get("/openapi.json", headers=as_key).status_code == 403
    schema = closed.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert schema.status_code == 200 and "/v1/embeddings" in schema.json()["paths"]


def test_the_local_stacks_server_answers_loopback_names_only(make_client: MakeClient) -> None:
    from elite_panel.core.kinds import RunnerKind
    from elite_panel.core.paths import AppPaths
    from elite_panel.core.profiles import Profile
    from elite_panel.stack.runners import RunnerEndpoint, assistant_spec

    endpoint = RunnerEndpoint(RunnerKind.OLLAMA, "http://127.0.0.1:11434", "ollama")
    spec = assistant_spec(Profile(), endpoint, AppPaths.from_env({"ELITE_HOME": "/tmp/x"}), "t")
    hosts = spec.env["ASSISTANT_ALLOWED_HOSTS"]  # what the supervisor gives the local server
    client = make_client(allowed_hosts=hosts)
    for good in ("127.0.0.1:8000", "localhost:8000", "localhost"):
        assert client.get("/health", headers={"host": good}).status_code == 200, good
    rebinding = client.get("/health", headers={"host": "attacker.example:8000"})
    assert rebinding.status_code == 400  # a page that rebound its name to 127.0.0.1
    assert make_client().get("/health").status_code == 200  # the default: any Host


def test_metrics_on_their_own_port_and_not_on_the_apis(tmp_path: Path) -> None:
    """The real command with ``ASSISTANT_METRICS_PORT``: one server, two sockets."""
    import subprocess
    import sys

    import httpx

    from tests.conftest import answers, wait_for
    from tests.fakes.ollama_double import OllamaDouble, build_app, free_port, serve_in_thread
    from tests.server.conftest import run_server

    api_port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "ASSISTANT_PORT": str(api_port),
        "ASSISTANT_METRICS_PORT": str(metrics_port),
        "ASSISTANT_ALLOWED_HOSTS": "localhost",  # Prometheus scrapes by address: not checked
        "ASSISTANT_DATA_DIR": str(tmp_path),
        "ASSISTANT_RATE_LIMIT": "off",
    }
    same = run_server({**env, "ASSISTANT_METRICS_PORT": str(api_port)}, "migrate")
    assert same.returncode == 2 and "ASSISTANT_METRICS_PORT must differ" in same.stderr
    for url in serve_in_thread(build_app(OllamaDouble())):
        env["ASSISTANT_BACKEND_URL"] = url
        server = subprocess.Popen([sys.executable, "-m", "embedded_server"], env=env)
        api, metrics = f"http://localhost:{api_port}", f"http://127.0.0.1:{metrics_port}"
        try:
            wait_for(lambda a=api: answers(f"{a}/health"), 30, "the assistant server")
            assert httpx.get(f"{api}/api/models").status_code == 200  # (counted below)
            assert httpx.get(f"{api}/metrics").status_code == 404  # nginx routes this port
            scraped = httpx.get(f"{metrics}/metrics")
            assert scraped.status_code == 200
            assert 'endpoint="/api/models"' in scraped.text
            for elsewhere in ("/health", "/api/models", "/v1/models"):
                assert httpx.get(f"{metrics}{elsewhere}").status_code == 404, elsewhere
        finally:
            server.terminate()
            server.wait(timeout=15)
