"""Every request has an id: the proxy's (``X-Request-ID``) or one made here; it is sent
back, passed to the runner's request, and on every log line about it, with one access
line in JSON (``ASSISTANT_LOG_FORMAT=json``) that holds no prompt and no secret."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from embedded_server.logging_setup import logging_config
from tests.fakes.ollama_double import OllamaDouble
from tests.server.conftest import AUTH, TOKEN, MakeClient

PROMPT = "a prompt that must never reach a log line"
BODY = {"model": "llama3.2", "messages": [{"role": "user", "content": PROMPT}]}


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The server's logging as it runs with ASSISTANT_LOG_FORMAT=json, into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    config = logging_config("INFO", "json")
    stream = io.StringIO()
    config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    yield stream
    root.handlers[:], root.level = saved


def test_the_proxys_id_is_sent_back_passed_to_the_runner_and_logged(
    client: TestClient, double: OllamaDouble, json_lines: io.StringIO
) -> None:
    answer = client.post("/api/chat", json=BODY, headers={**AUTH, "X-Request-ID": "nginx-4f2a"})
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == "nginx-4f2a"
    assert double.request_ids[-1] == "nginx-4f2a"  # the runner's request carries it
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    (access,) = [line for line in lines if line["logger"] == "embedded_server.access"]
    assert access["request_id"] == "nginx-4f2a" and access["route"] == "/api/chat"
    assert access["status"] == 200 and access["key"] == "admin" and access["tokens"] > 0
    assert access["duration_ms"] >= 0 and access["level"] == "INFO"
    text = json_lines.getvalue()
    assert PROMPT not in text and TOKEN not in text


def test_an_id_is_made_where_none_or_a_bad_one_is_given(client: TestClient) -> None:
    made = client.get("/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/health").headers["x-request-id"] != made
    hostile_id = ("a b\u00e9" + "x" * 300).encode("latin-1")
    hostile = client.get("/health", headers={"X-Request-ID": hostile_id})  # type: ignore[dict-item]
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])


def test_prompts_are_logged_only_where_asked(
    make_client: MakeClient, json_lines: io.StringIO
) -> None:
    """``ASSISTANT_LOG_PROMPTS=true``: the caller's words on lines of their own (logger
    ``embedded_server.prompts``) with the request's id; never without it (above)."""
    client = make_client(log_prompts=True)
    answer = client.post("/api/chat", json=BODY, headers={**AUTH, "X-Request-ID": "ask-1"})
    assert answer.status_code == 200
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    (prompt,) = [line for line in lines if line["logger"] == "embedded_server.prompts"]
    assert prompt["message"] == f"user: {PROMPT}" and prompt["request_id"] == "ask-1"
    (access,) = [line for line in lines if line["logger"] == "embedded_server.access"]
    assert PROMPT not in json.dumps(access)  # the access line still holds none
