"""The assistant server against the Ollama test double (recorded API shapes)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def double() -> Iterator[OllamaDouble]:
    state = OllamaDouble()
    for url in serve_in_thread(build_app(state)):
        state.url = url
        yield state


@pytest.fixture
def client(double: OllamaDouble, tmp_path: object) -> Iterator[TestClient]:
    double.drop_final = False
    settings = Settings(api_token=TOKEN, backend="ollama", backend_url=double.url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def events(response: object) -> list[dict[str, object]]:
    lines = response.text.splitlines()  # type: ignore[attr-defined]
    return [json.loads(line) for line in lines]


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_when_backend_answers(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_ready_is_503_with_the_reason_when_backend_is_down() -> None:
    settings = Settings(api_token=TOKEN, backend="ollama", backend_url="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert "did not list its models" in response.json()["checks"]["backend"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
def test_api_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    assert client.get("/api/models", headers=headers).status_code == 401
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/api/chat", json=body, headers=headers).status_code == 401


def test_models_come_from_the_backend(client: TestClient) -> None:
    models = client.get("/api/models", headers=AUTH).json()["models"]
    assert models[0] == {
        "name": "deepseek-r1:latest",
        "size": 4683075271,
        "family": "qwen2",
        "parameter_size": "7.6B",
        "quantization": "Q4_K_M",
    }


def test_chat_streams_ndjson_events(client: TestClient, double: OllamaDouble) -> None:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "code please"}]}
    with client.stream("POST", "/api/chat", json=body, headers=AUTH) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        response.read()
    got = events(response)
    assert got[0]["type"] == "start" and got[0]["model"] == "llama3.2"
    assert got[0]["conversation_id"]
    text = "".join(str(e["content"]) for e in got if e["type"] == "token")
    assert text == double.answer
    done = got[-1]
    assert done["type"] == "done"
    assert done["usage"] == {
        "prompt_tokens": 26,
        "completion_tokens": len(double.answer.split(" ")),
    }
    assert isinstance(done["ttft_ms"], float)
    sent = double.requests[-1]["messages"]
    assert sent[0]["role"] == "system" and sent[-1]["content"] == "code please"


def test_unknown_model_gives_an_error_event(client: TestClient) -> None:
    body = {"model": "does-not-exist", "messages": [{"role": "user", "content": "hi"}]}
    got = events(client.post("/api/chat", json=body, headers=AUTH))
    assert got[-1] == {"type": "error", "message": "Ollama: model 'does-not-exist' not found"}


def test_stream_ending_without_done_is_an_error(client: TestClient, double: OllamaDouble) -> None:
    double.drop_final = True
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    got = events(client.post("/api/chat", json=body, headers=AUTH))
    assert any(e["type"] == "token" for e in got)
    assert got[-1]["type"] == "error"
    assert "without finishing" in str(got[-1]["message"])


def test_default_model_is_the_first_listed(client: TestClient) -> None:
    got = events(
        client.post(
            "/api/chat", json={"messages": [{"role": "user", "content": "x"}]}, headers=AUTH
        )
    )
    assert got[0]["model"] == "deepseek-r1:latest"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"messages": "nope"},
    ],
)
def test_malformed_bodies_are_422(client: TestClient, body: dict[str, object]) -> None:
    assert client.post("/api/chat", json=body, headers=AUTH).status_code == 422


def test_refuses_a_public_address_without_a_token() -> None:
    with pytest.raises(ValidationError, match="without ASSISTANT_API_TOKEN"):
        Settings(host="0.0.0.0", api_token="")
    assert Settings(host="0.0.0.0", api_token="t").host == "0.0.0.0"


def test_backend_url_falls_back_to_ollama_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_BACKEND_URL", raising=False)
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://10.0.0.5:11434")
    assert Settings().backend_url == "http://10.0.0.5:11434"
