"""The OpenAI-compatible API, driven by the official ``openai`` client (sync, async,
streamed) against a live server in front of the Ollama double, and by request shapes
coding tools send."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, serve_in_thread
from tests.server.conftest import AUTH, TOKEN

PROMPT = [{"role": "user", "content": "Write a hello world in Python."}]


@pytest.fixture
def server(double: OllamaDouble, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        api_token=TOKEN, backend_url=double.url, data_dir=tmp_path / "srv", rate_limit="off"
    )
    yield from serve_in_thread(create_app(settings))


@pytest.fixture
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key=TOKEN, max_retries=0)


def test_a_chat_completion_answers_with_usage_and_is_recorded(
    client: openai.OpenAI, server: str, double: OllamaDouble
) -> None:
    answer = client.chat.completions.create(model="llama3.2", messages=PROMPT)  # type: ignore[arg-type]
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.content == double.answer
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    # a client that sends no system prompt gets none (the panel's default is not added)
    assert [m["role"] for m in double.requests[-1]["messages"]] == ["user"]
    listed = httpx.get(f"{server}/api/conversations", headers=AUTH).json()
    assert listed["conversations"][0]["title"].startswith("Write a hello world")


def test_a_streamed_completion_arrives_in_chunks_with_usage_at_the_end(
    client: openai.OpenAI, double: OllamaDouble
) -> None:
    stream = client.chat.completions.create(
        model="llama3.2",
        messages=PROMPT,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == double.answer
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_the_async_client_streams_too(server: str, double: OllamaDouble) -> None:
    async def ask() -> str:
        async with openai.AsyncOpenAI(base_url=f"{server}/v1", api_key=TOKEN) as client:
            stream = await client.chat.completions.create(
                model="llama3.2",
                messages=PROMPT,  # type: ignore[arg-type]
                stream=True,
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream])

    assert asyncio.run(ask()) == double.answer


def test_models_are_listed(client: openai.OpenAI, double: OllamaDouble) -> None:
    ids = {m.id for m in client.models.list()}
    assert ids == {m["name"] for m in double.installed}


def test_errors_come_in_openais_shape(client: openai.OpenAI, server: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=PROMPT)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as invalid:
        client.chat.completions.create(model="llama3.2", messages=PROMPT, temperature=7)  # type: ignore[arg-type]
    assert "temperature" in invalid.value.message
    stranger = openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_a_runner_dying_mid_stream_ends_it_with_an_error(
    client: openai.OpenAI, double: OllamaDouble
) -> None:
    """The stream had begun (chunks came, the status was 200) when the runner stopped:
    the client gets an error event, not a status error and not a silent end."""
    double.drop_final = True  # the runner stops before its last message
    stream = client.chat.completions.create(model="llama3.2", messages=PROMPT, stream=True)  # type: ignore[arg-type]
    received: list[str] = []
    with pytest.raises(openai.APIError) as failure:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert "".join(received).strip()  # some of the answer arrived first
    assert not isinstance(failure.value, openai.APIStatusError)  # not refused before streaming
    assert "without finishing" in failure.value.message, failure.value.message


def test_what_a_coding_tool_sends(server: str, double: OllamaDouble) -> None:
    """A chat with code context as an editor sends it: a system prompt of its own, content
    as a list of text parts, fields we do not use (n, user, tools' defaults)."""
    body = {
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "You are a coding assistant inside an editor."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "```python\ndef add(a, b):\n    return a - b\n```\n"},
                    {"type": "text", "text": "Fix the bug."},
                ],
            },
        ],
        "temperature": 0.2,
        "max_tokens": 256,
        "stop": ["\n\n\n"],
        "n": 1,
        "user": "editor",
        "stream": False,
    }
    response = httpx.post(f"{server}/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    sent = double.requests[-1]
    assert sent["messages"][0] == {
        "role": "system",
        "content": "You are a coding assistant inside an editor.",
    }
    assert "Fix the bug." in sent["messages"][1]["content"]
    assert sent["options"]["temperature"] == 0.2 and sent["options"]["num_predict"] == 256


def test_a_fill_in_the_middle_completion_as_an_editor_asks_it(
    client: openai.OpenAI, server: str, double: OllamaDouble
) -> None:
    prefix = "def add(a, b):\n    "
    suffix = "\n\nprint(add(1, 2))\n"
    whole = client.completions.create(
        model="llama3.2", prompt=prefix, suffix=suffix, max_tokens=64, temperature=0
    )
    assert whole.object == "text_completion"
    assert whole.choices[0].text == double.completion
    assert whole.usage is not None and whole.usage.completion_tokens > 0
    sent = double.requests[-1]
    assert (sent["prompt"], sent["suffix"]) == (prefix, suffix)
    assert sent["options"]["num_predict"] == 64

    stream = client.completions.create(model="llama3.2", prompt=prefix, suffix=suffix, stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks) == double.completion
    assert chunks[-1].choices[0].finish_reason == "stop"
    # autocompletions are not recorded as conversations (one at every pause in typing)
    listed = httpx.get(f"{server}/api/conversations", headers=AUTH).json()
    assert listed["conversations"] == []

    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt=prefix)


def test_record_openai_false_relays_without_storing(double: OllamaDouble, tmp_path: Path) -> None:
    settings = Settings(
        api_token=TOKEN,
        backend_url=double.url,
        data_dir=tmp_path / "srv",
        rate_limit="off",
        record_openai=False,
    )
    for server in serve_in_thread(create_app(settings)):
        client = openai.OpenAI(base_url=f"{server}/v1", api_key=TOKEN, max_retries=0)
        answer = client.chat.completions.create(model="llama3.2", messages=PROMPT)  # type: ignore[arg-type]
        assert answer.choices[0].message.content == double.answer
        listed = httpx.get(f"{server}/api/conversations", headers=AUTH).json()
        assert listed["conversations"] == []
