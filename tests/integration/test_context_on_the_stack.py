"""Context windows on the real stack: the built-in runner and its bundled model, run with a
window of 512 tokens (the profile's ``runner.context_tokens``; the model was trained for
8,192), counted by llama.cpp's own tokenizer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from elite_panel.core.paths import AppPaths
from elite_panel.core.stack_token import read_token
from embedded_server.config import DEFAULT_SYSTEM_PROMPT
from tests.conftest import REPO, Home

pytestmark = [pytest.mark.model, pytest.mark.slow]

WINDOW = 512
SOURCE = (REPO / "embedded_server" / "services" / "chat.py").read_text()
PASTE = "Explain this code: " + (SOURCE * 4)[:46_000]  # a 46 KB file, about 12,000 tokens
PROSE = "The supervisor restarts a crashed runner and the assistant keeps each conversation. "


def events(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200, response.read()
        return [json.loads(line) for line in response.iter_lines() if line.strip()]


def test_the_built_in_runner_fits_every_conversation_into_its_window(home: Home) -> None:
    home.env["ELITE_RUNNER__CONTEXT_TOKENS"] = str(WINDOW)
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    listed = json.loads(home.cli("models", "list", "--json").stdout)["models"]
    (model,) = [m for m in listed if not m["embedding"]]  # (all-minilm makes embeddings)
    assert (model["context_length"], model["trained_context_length"]) == (WINDOW, 8192)
    assert f"ctx {WINDOW} of 8,192" in home.cli("models", "list").stdout
    token = read_token(AppPaths.from_env(home.env))
    url = f"http://127.0.0.1:{home.assistant_port}"
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)

    # The paste is refused with its numbers, in one line, and never reaches the runner.
    (runner,) = http.get("/api/runners").json()["runners"]
    refused = home.cli("chat", input=PASTE)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert f"the model's context window is {WINDOW} tokens" in refused.stderr
    assert "needs 1" in refused.stderr  # its own count: over ten thousand tokens
    (after,) = http.get("/api/runners").json()["runners"]
    assert after["state"] == "up" and after["requests"] == runner["requests"]
    answered = home.cli("chat", "Say hello in one word.")  # the next prompt, at once
    assert answered.returncode == 0 and answered.stdout.strip(), answered.stderr

    # A prompt just under the window is answered whole; the runner counts no more than we.
    def counted(repeats: int) -> dict[str, Any]:
        body = {
            "messages": [{"role": "user", "content": PROSE * repeats}],
            "options": {"max_tokens": 8},
        }
        result: dict[str, Any] = http.post("/api/chat/count", json=body).json()
        return result

    one, two = (counted(n)["context"]["prompt_tokens"] for n in (1, 2))
    repeats = 1 + (WINDOW - 8 - one) // (two - one)  # the most that fit, by the server's count
    assert counted(repeats)["fits"] and not counted(repeats + 1)["fits"]
    text = PROSE * repeats
    body = {"messages": [{"role": "user", "content": text}], "options": {"max_tokens": 8}}
    answer = events(http, body)
    context, done = answer[0]["context"], answer[-1]
    assert done["type"] == "done", done
    assert context["exact"] and context["omitted_messages"] == context["truncated_tokens"] == 0
    assert WINDOW - 8 - 40 < context["prompt_tokens"] <= WINDOW - 8
    # llama.cpp's server reports no usage while streaming: asked again, whole, it says
    # what it counted of the same prompt.
    runner_url = f"http://127.0.0.1:{home.runner_port}/v1/chat/completions"
    prompt = [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, *body["messages"]]
    whole = {"model": model["name"], "messages": prompt, "max_tokens": 1}
    reported = httpx.post(runner_url, json=whole, timeout=120).json()["usage"]["prompt_tokens"]
    assert context["prompt_tokens"] - 60 <= reported <= context["prompt_tokens"]

    # A conversation longer than the window: its oldest turns are left out, and said to be.
    conversation = answer[0]["conversation_id"]
    omitted = 0
    for turn in range(4):
        body = {
            "conversation_id": conversation,
            "messages": [{"role": "user", "content": f"Turn {turn}. " + PROSE * 6}],
            "options": {"max_tokens": 8},
        }
        answer = events(http, body)
        assert answer[-1]["type"] == "done", answer[-1]  # the runner took the prompt
        omitted = answer[0]["context"]["omitted_messages"]
        if omitted:
            break
    assert omitted > 0
    shown = home.cli("chat", "--conversation", conversation, "Thanks, and one more thing.")
    assert shown.returncode == 0, shown.stderr
    assert f"beyond this model's {WINDOW}-token window" in shown.stderr

    # The OpenAI API never trims: the official client reads OpenAI's error code.
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0)
    with pytest.raises(openai.BadRequestError) as exceeded:
        client.chat.completions.create(
            model=model["name"], messages=[{"role": "user", "content": PASTE}]
        )
    assert exceeded.value.code == "context_length_exceeded"
    (last,) = http.get("/api/runners").json()["runners"]
    assert last["state"] == "up" and last["failures"] == 0
    # no request counted against it (a health check may be slow on a loaded machine)
    assert last["last_error"] in (None, "did not answer its health check in time")
