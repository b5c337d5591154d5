"""The OpenAI-compatible API of the real stack: the official ``openai`` client against the
assistant server in front of the built-in runner and its bundled model (real tokens)."""

from __future__ import annotations

import openai
import pytest

from elite_panel.core.paths import AppPaths
from elite_panel.core.stack_token import read_token
from tests.conftest import Home

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_the_official_client_chats_and_completes_on_the_built_in_runner(home: Home) -> None:
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    token = read_token(AppPaths.from_env(home.env))
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{home.assistant_port}/v1", api_key=token, max_retries=0
    )
    # the bundled chat model (the other one, all-minilm, makes embeddings)
    (model,) = [m.id for m in client.models.list() if m.id != "all-minilm"]
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Write a Python function that adds two numbers."}],
        max_tokens=48,
    )
    assert answer.choices[0].message.content
    assert answer.usage is not None and 0 < answer.usage.completion_tokens <= 48
    stream = client.completions.create(
        model=model, prompt="def add(a, b):\n    return", max_tokens=16, stream=True
    )
    text = "".join(chunk.choices[0].text for chunk in stream)
    assert text.strip()
    # and embeddings, from the bundled embedding model the stack converted at its start
    embedded = client.embeddings.create(model="all-minilm", input=["def add(a, b):", "sum"])
    assert [len(row.embedding) for row in embedded.data] == [384, 384]
