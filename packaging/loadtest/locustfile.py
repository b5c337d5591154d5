"""A team's day on the assistant server, for Locust: developers chatting in conversations of
a few turns, editors asking short fill-in-the-middle completions as people type, and one key
flooding the server far beyond its limits. Each kind of user has its own API key.

    ELITE_LOAD_KEYS='{"chat": "eca_…", "editor": "eca_…", "flood": "eca_…"}' \\
    locust -f packaging/loadtest/locustfile.py --headless -u 30 -r 10 -t 60s \\
        --host https://assistant.example --csv load --html load.html

``ELITE_LOAD_MODEL`` names the model (default ``llama3.2``); ``ELITE_LOAD_FLOOD=0`` leaves
the flooding user out (the baseline). Each answer's first token is its own entry
(``first token``), beside the whole request. A flood request the server refuses with 429 is
what its limits are for: counted as ``refused`` (a success), never a failure; any 5xx, an
answer that ends with an error event, or one that ends without ``done`` is a failure.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from locust import HttpUser, between, constant, task

KEYS: dict[str, str] = json.loads(os.environ.get("ELITE_LOAD_KEYS", "{}"))
MODEL = os.environ.get("ELITE_LOAD_MODEL", "llama3.2")
FLOOD = os.environ.get("ELITE_LOAD_FLOOD", "1") != "0"


def auth(kind: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[kind]}"}


class Team(HttpUser):
    """What every user of the team does with a streamed answer."""

    abstract = True
    key = ""

    def stream(self, path: str, body: dict[str, Any], name: str) -> dict[str, Any] | None:
        """Send ``body``; the answer's first event (None when it was refused with 429 or
        failed)."""
        began = time.perf_counter()
        first: float | None = None
        opening: dict[str, Any] = {}
        last: dict[str, Any] = {}
        with self.client.post(
            path, json=body, headers=auth(self.key), stream=True, catch_response=True, name=name
        ) as response:
            if response.status_code == 429:
                response.success()
                self.environment.events.request.fire(
                    request_type="LIMIT",
                    name="refused",
                    response_time=(time.perf_counter() - began) * 1000,
                    response_length=0,
                    exception=None,
                    context={},
                )
                return None
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return None
            for line in response.iter_lines():
                if not line:
                    continue
                last = _event(line, path)
                if first is None and last.get("type") != "start":
                    first = time.perf_counter()
                opening = opening or last
            if last.get("type") != "done":
                response.failure(f"the answer did not end: {last}")
                return None
        self.environment.events.request.fire(
            request_type="TTFT",
            name=f"{name} first token",
            response_time=((first or time.perf_counter()) - began) * 1000,
            response_length=0,
            exception=None,
            context={},
        )
        return opening


def _event(line: bytes | str, path: str) -> dict[str, Any]:
    """One event of our NDJSON chat, or of OpenAI's server-sent events (its end: done)."""
    text = line.decode() if isinstance(line, bytes) else line
    if path.startswith("/api/"):
        event: dict[str, Any] = json.loads(text)
        return event
    if text == "data: [DONE]":
        return {"type": "done"}
    if text.startswith("data: "):
        chunk = json.loads(text[6:])
        if "error" in chunk:
            return {"type": "error", **chunk["error"]}
    return {"type": "token"}


class Developer(Team):
    """Chats in conversations of four turns."""

    weight = 3
    wait_time = between(0.5, 1.5)
    key = "chat"

    def on_start(self) -> None:
        self.conversation: str | None = None
        self.turns = 0

    @task
    def turn(self) -> None:
        body: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": f"Turn {self.turns}: what does it do?"}],
            "options": {"max_tokens": 32},
        }
        if self.conversation:
            body["conversation_id"] = self.conversation
        start = self.stream("/api/chat", body, "chat")
        if start is not None:
            self.conversation = start.get("conversation_id")
        self.turns = (self.turns + 1) % 4
        if self.turns == 0:
            self.conversation = None


class Editor(Team):
    """Asks a fill-in-the-middle completion at each pause in typing."""

    weight = 3
    wait_time = between(0.2, 0.6)
    key = "editor"

    @task
    def complete(self) -> None:
        body = {
            "model": MODEL,
            "prompt": "def add(a, b):\n    ",
            "suffix": "\n\nprint(add(1, 2))\n",
            "max_tokens": 16,
            "stream": True,
        }
        self.stream("/v1/completions", body, "fim")


class Flood(Team):
    """One key sending ten requests a second, many times what its limits let through: two
    users, whatever the team's size (``fixed_count``), so that a run with the flood has the
    same team."""

    abstract = not FLOOD
    fixed_count = 2
    wait_time = constant(0.2)
    key = "flood"

    @task
    def flood(self) -> None:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "again"}]}
        self.stream("/api/chat", body, "flood")
