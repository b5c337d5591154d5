"""The assistant client's failures, each one line that says what to do: an unknown host,
nothing listening, a server that accepts and never answers."""

from __future__ import annotations

import asyncio
import socket

import pytest

from elite_panel.client.assistant import AssistantClient
from elite_panel.core.errors import AssistantError
from tests.fakes.ollama_double import free_port


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
