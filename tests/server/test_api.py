"""Health, auth, models, errors, headers, metrics and settings of the assistant server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from embedded_server.config import Settings
from tests.conftest import wait_for
from tests.fakes.ollama_double import OllamaDouble
from tests.server.conftest import AUTH, MakeClient, ndjson


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_checks_database_and_backend(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "backend": "ok"}}


def test_ready_is_503_naming_the_failing_check_and_why_to_the_admin_only(
    make_client: MakeClient,
) -> None:
    client = make_client(backend_url="http://127.0.0.1:9")
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {"database": "ok", "backend": "unavailable"},  # no URL for strangers
    }
    for wrong in ({"Authorization": "Bearer nope"}, {"Authorization": "nope"}):
        assert client.get("/ready", headers=wrong).json()["checks"]["backend"] == "unavailable"
    told = client.get("/ready", headers=AUTH).json()
    assert "did not list its models" in told["checks"]["backend"]
    assert "127.0.0.1:9" in told["checks"]["backend"]


def test_a_keys_view_of_the_runners_names_no_address_nor_raw_error(
    make_client: MakeClient,
) -> None:
    client = make_client(backend_url="http://127.0.0.1:9")
    key = client.post("/api/keys", json={"name": "dev"}, headers=AUTH).json()["key"]
    as_key = {"Authorization": f"Bearer {key}"}

    def runner(headers: dict[str, str]) -> dict[str, Any]:
        (only,) = client.get("/api/runners", headers=headers).json()["runners"]
        result: dict[str, Any] = only
        return result

    wait_for(lambda: runner(AUTH)["last_error"], 10, "the failed health check")
    assert "127.0.0.1:9" in runner(AUTH)["last_error"] and runner(AUTH)["url"]
    assert runner(as_key)["last_error"] == "unavailable" and runner(as_key)["url"] is None
    assert "127.0.0.1:9" not in client.get("/ready", headers=as_key).text


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}]
)
def test_api_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    for response in (
        client.get("/api/models", headers=headers),
        client.get("/api/conversations", headers=headers),
        client.post(
            "/api/chat", json={"messages": [{"role": "user", "content": "hi"}]}, headers=headers
        ),
    ):
        assert response.status_code == 401
        assert response.json() == {"error": "missing or wrong bearer token", "code": "unauthorized"}


def test_models_come_from_the_backend(client: TestClient) -> None:
    models = client.get("/api/models", headers=AUTH).json()["models"]
    assert models[0] == {
        "name": "deepseek-r1:latest",
        "size": 4683075271,
        "family": "qwen2",
        "parameter_size": "7.6B",
        "quantization": "Q4_K_M",
        "modified_at": "2025-05-10T08:06:48.639712-07:00",
        "digest": "0a8c266910232fd3291e71e5ba1e058cc5af9d411192cf88b6d30e92b6e73163",
        # /api/show's trained window, and Ollama's default num_ctx (the model sets none)
        "context_length": 4096,
        "trained_context_length": 8192,
        "conversations": 0,
        "embedding": False,
    }


def test_models_with_backend_down_is_503_json(make_client: MakeClient) -> None:
    response = make_client(backend_url="http://127.0.0.1:9").get("/api/models", headers=AUTH)
    assert response.status_code == 503
    assert "did not list its models" in response.json()["error"]


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/health"), client.get("/api/models"), client.get("/nope")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["content-security-policy"]
    assert (
        "access-control-allow-origin"
        not in client.get("/health", headers={"Origin": "http://evil.example"}).headers
    )
    # Streams tell nginx not to buffer them (the guide's nginx buffers /api/); others do not.
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/api/chat", json=body, headers=AUTH).headers["x-accel-buffering"] == "no"
    assert "x-accel-buffering" not in client.get("/api/models", headers=AUTH).headers


def test_cors_only_when_configured(make_client: MakeClient) -> None:
    client = make_client(cors_origins=["http://app.example"])
    response = client.get("/health", headers={"Origin": "http://app.example"})
    assert response.headers["access-control-allow-origin"] == "http://app.example"


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/api/nothing-here", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found", "code": "not_found"}


def test_bad_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/chat", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "the body is not valid JSON"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"messages": "nope"},
        {"messages": [{"role": "user", "content": "x"}], "options": {"temperature": -1}},
    ],
)
def test_invalid_bodies_are_422_with_details(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/api/chat", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid request"
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_oversized_body_is_413(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=2048)
    big = {"messages": [{"role": "user", "content": "x" * 5000}]}
    response = client.post("/api/chat", json=big, headers=AUTH)
    assert response.status_code == 413
    assert "larger than 2048 bytes" in response.json()["error"]
    # without Content-Length (chunked), the limit applies while the body streams in
    chunks = iter([b'{"messages": [{"role": "user", "content": "', b"y" * 4000, b'"}]}'])
    response = client.post(
        "/api/chat", content=chunks, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_metrics_use_the_deployment_guide_names(client: TestClient) -> None:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    assert ndjson(client.post("/api/chat", json=body, headers=AUTH).text)[-1]["type"] == "done"
    client.get("/api/conversations/does-not-exist", headers=AUTH)
    text = client.get("/metrics").text
    assert 'http_requests_total{endpoint="/api/chat",method="POST",status="200"} 1.0' in text
    assert (
        'http_requests_total{endpoint="/api/conversations/{conversation_id}",'
        'method="GET",status="404"} 1.0'
    ) in text
    assert "http_request_duration_seconds_bucket{" in text
    words = len(OllamaDouble.answer.split(" "))
    assert f'assistant_tokens_generated_total{{model="llama3.2"}} {words}.0' in text
    assert "assistant_time_to_first_token_seconds_count 1.0" in text
    assert "assistant_active_streams 0.0" in text
    assert "assistant_backend_up 1.0" in text


def test_refuses_a_public_address_without_a_token() -> None:
    with pytest.raises(ValidationError, match="without ASSISTANT_API_TOKEN"):
        Settings(host="0.0.0.0", api_token="")
    assert Settings(host="0.0.0.0", api_token="t").host == "0.0.0.0"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ASSISTANT_RATE_LIMIT", "lots", "not a rate limit"),
        ("ASSISTANT_PORT", "99999", "less than or equal to 65535"),
        ("LOG_FORMAT", "xml", "'text' or 'json'"),
        ("DATABASE_URL", "just-a-path", "must be a URL"),
    ],
)
def test_invalid_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_fallback_variable_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ASSISTANT_BACKEND_URL", "ASSISTANT_DATABASE_URL", "ASSISTANT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://10.0.0.5:11434")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/elite")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    settings = Settings()
    assert settings.backend_url == "http://10.0.0.5:11434"
    assert settings.sqlalchemy_url() == "postgresql://u:p@db/elite"
    assert settings.redis_url.get_secret_value() == "redis://cache:6379/0"
    assert "u:p" not in repr(settings)  # secrets stay out of logs and reprs
    monkeypatch.delenv("DATABASE_URL")
    assert Settings(data_dir=tmp_path).sqlalchemy_url() == f"sqlite:///{tmp_path}/assistant.db"


def test_a_chat_needs_more_than_a_system_message(client: TestClient) -> None:
    body = {"messages": [{"role": "system", "content": "You are terse."}]}
    response = client.post("/api/chat", json=body, headers=AUTH)
    assert response.status_code == 422
    assert "at least one user or assistant message" in response.json()["detail"][0]["msg"]
