"""The OpenAI-compatible side: against its double, and against the real built-in runner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from embedded_server.backends.openai_backend import OpenAIBackend
from tests.builtin_runner import running_builtin_runner
from tests.conftest import wait_for
from tests.fakes.ollama_double import free_port
from tests.fakes.openai_double import MODEL, OpenAIDouble
from tests.server.conftest import AUTH, MakeClient, ndjson


def test_models_and_stream_through_the_double(
    make_client: MakeClient, openai_backend: OpenAIDouble
) -> None:
    client = make_client(backend="openai", backend_url=openai_backend.url)
    assert client.get("/api/models", headers=AUTH).json() == {
        # the double's /v1/models says no window: Ollama's default is assumed
        "models": [{"name": MODEL, "context_length": 4096, "conversations": 0, "embedding": False}]
    }
    events = ndjson(
        client.post(
            "/api/chat", json={"messages": [{"role": "user", "content": "x"}]}, headers=AUTH
        ).text
    )
    assert events[0]["model"] == MODEL
    assert "".join(e["content"] for e in events if e["type"] == "token") == (
        openai_backend.token_text * openai_backend.tokens
    )
    assert events[-1]["usage"]["completion_tokens"] == openai_backend.tokens


def test_unknown_model_is_an_error_event(
    make_client: MakeClient, openai_backend: OpenAIDouble
) -> None:
    client = make_client(backend="openai", backend_url=openai_backend.url)
    body = {"model": "gpt-nope", "messages": [{"role": "user", "content": "x"}]}
    events = ndjson(client.post("/api/chat", json=body, headers=AUTH).text)
    assert events[-1]["type"] == "error"
    assert "gpt-nope" in events[-1]["message"] and "not found" in events[-1]["message"]


def test_unreachable_runner_is_an_error_event_and_the_prompt_is_kept(
    make_client: MakeClient,
) -> None:
    client = make_client(backend="openai", backend_url=f"http://127.0.0.1:{free_port()}/v1")
    body = {"model": MODEL, "messages": [{"role": "user", "content": "still here?"}]}
    events = ndjson(client.post("/api/chat", json=body, headers=AUTH).text)
    assert events[-1]["type"] == "error"
    assert "is the model runner running" in events[-1]["message"]
    stored = client.get(f"/api/conversations/{events[0]['conversation_id']}", headers=AUTH)
    assert stored.json()["messages"][0]["content"] == "still here?"


def test_a_cancelled_stream_closes_its_request(
    openai_backend: OpenAIDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a client that leaves does to the reader: the runner sees its request closed
    and stops generating."""
    monkeypatch.setattr(openai_backend, "delay_s", 0.02)
    cancelled_before = openai_backend.streams_cancelled

    async def scenario() -> None:
        backend = OpenAIBackend(openai_backend.url, "")
        first: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def read() -> None:
            async for chunk in backend.chat_stream(MODEL, [{"role": "user", "content": "x"}], {}):
                if not first.done():
                    first.set_result(chunk.content)

        reader = asyncio.create_task(read())
        assert await asyncio.wait_for(first, 10) == openai_backend.token_text
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await backend.aclose()

    asyncio.run(scenario())
    wait_for(
        lambda: openai_backend.streams_cancelled == cancelled_before + 1, 5, "the runner to stop"
    )


def test_chat_goes_through_the_proxy_of_the_environment(
    make_client: MakeClient, openai_backend: OpenAIDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's host does not resolve: the answer can only come through the proxy
    (the double, which serves the absolute-form request a proxy receives)."""
    monkeypatch.setenv("HTTP_PROXY", openai_backend.url.removesuffix("/v1"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = make_client(backend="openai", backend_url="http://runner.invalid:8080/v1")
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    events = ndjson(client.post("/api/chat", json=body, headers=AUTH).text)
    assert events[-1]["type"] == "done", events
    monkeypatch.setenv("NO_PROXY", "runner.invalid")  # exempted: straight to the host
    client = make_client(backend="openai", backend_url="http://runner.invalid:8080/v1")
    events = ndjson(client.post("/api/chat", json=body, headers=AUTH).text)
    assert events[-1]["type"] == "error"


@pytest.fixture(scope="module")
def builtin_runner() -> Iterator[str]:
    """The built-in runner, started with the command line the supervisor uses."""
    with running_builtin_runner() as url:
        yield url


@pytest.mark.model
def test_real_builtin_runner_answers_and_is_stored(
    make_client: MakeClient, builtin_runner: str
) -> None:
    client: TestClient = make_client(backend="openai", backend_url=builtin_runner)
    assert client.get("/ready").status_code == 200
    body = {
        "messages": [{"role": "user", "content": "Write a Python function adding two numbers."}],
        "options": {"max_tokens": 64, "temperature": 0},
    }
    events = ndjson(client.post("/api/chat", json=body, headers=AUTH).text)
    assert events[0]["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert events[-1]["type"] == "done", events[-1]
    text = "".join(e["content"] for e in events if e["type"] == "token")
    assert text.strip()
    assert 0 < events[-1]["usage"]["completion_tokens"] <= 64
    stored = client.get(f"/api/conversations/{events[0]['conversation_id']}", headers=AUTH).json()
    assert stored["messages"][-1]["content"] == text
    assert stored["messages"][-1]["status"] == "complete"


@pytest.mark.model
def test_health_checks_do_not_cut_an_answer_short(
    make_client: MakeClient, builtin_runner: str
) -> None:
    """llama.cpp's server stops an answer when any other request arrives unless told not
    to; the supervisor polls /v1/models while answers stream."""
    client: TestClient = make_client(backend="openai", backend_url=builtin_runner)
    body = {
        "messages": [{"role": "user", "content": "Count from 1 to 100, one per line."}],
        "options": {"max_tokens": 200, "temperature": 0},
    }
    lines = []
    with client.stream("POST", "/api/chat", json=body, headers=AUTH) as response:
        for number, line in enumerate(response.iter_lines()):
            lines.append(line)
            if number % 5 == 1:
                assert httpx.get(f"{builtin_runner}/models", timeout=10).status_code == 200
    events = ndjson("\n".join(lines))
    assert events[-1]["type"] == "done", events[-1]
