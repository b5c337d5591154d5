"""The assistant client's failures, each one line that says what to do: an unknown host,
nothing listening, a server that accepts and never answers."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from elite_panel.client.assistant import AssistantClient
from elite_panel.core.errors import AssistantError
from tests.fakes.ollama_double import free_port, serve_in_thread


def failure(url: str, timeout_s: float = 5.0) -> str:
    async def ask() -> str:
        client = AssistantClient(url, "secret-key", timeout_s=timeout_s)
        try:
            with pytest.raises(AssistantError) as raised:
                await client.conversations()
        finally:
            await client.aclose()
        assert raised.value.code == "unreachable"
        return str(raised.value)

    message = asyncio.run(ask())
    assert "secret-key" not in message and "\n" not in message
    return message


def test_an_unknown_host_name() -> None:
    message = failure("http://no-such-host.invalid:8000")
    assert message.startswith("no-such-host.invalid is not a known host name: check")


def test_nothing_listening() -> None:
    message = failure(f"http://127.0.0.1:{free_port()}")
    assert message.startswith("cannot connect to http://127.0.0.1:")
    assert "check that the server is running" in message


def test_a_server_that_never_answers() -> None:
    with socket.socket() as listener:  # accepts (the backlog) and never reads
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        message = failure(f"http://127.0.0.1:{port}", timeout_s=0.5)
    assert (
        message
        == f"http://127.0.0.1:{port} did not answer in time: check the server and the network"
    )


@pytest.mark.parametrize(
    ("error", "said"),
    [
        ("rate limit exceeded", "rate limited by the server: try again in 7 s"),
        (
            "the key 'ci' used 990 of its 1,000 tokens a minute",
            "the key 'ci' used 990 of its 1,000 tokens a minute: try again in 7 s",
        ),
    ],
)
def test_a_limit_is_named_with_its_wait(error: str, said: str) -> None:
    """A 429 says which limit (a key's tokens, or the request rate) and how long to wait."""
    app = FastAPI()

    @app.get("/api/models")
    async def refuse() -> JSONResponse:
        body = {"error": error, "code": "rate_limited"}
        return JSONResponse(body, status_code=429, headers={"Retry-After": "7"})

    async def ask(url: str) -> AssistantError:
        client = AssistantClient(url, "key")
        try:
            with pytest.raises(AssistantError) as raised:
                await client.models()
        finally:
            await client.aclose()
        return raised.value

    with contextlib.contextmanager(serve_in_thread)(app) as url:
        refused = asyncio.run(ask(url))
    assert str(refused) == said and refused.code == "rate_limited"
