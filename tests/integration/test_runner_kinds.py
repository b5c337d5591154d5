"""The Ollama runner kinds, against the Ollama test double (no Ollama binary runs here):
``auto`` finding an ``ollama`` on PATH and supervising ``ollama serve``, and ``external``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, Home
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

pytestmark = pytest.mark.slow
FAKE_BIN = Path(__file__).resolve().parents[1] / "fakes" / "bin"


def statuses(home: Home) -> dict[str, dict[str, object]]:
    result = home.cli("stack", "status", "--json")
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def use_fake_ollama(home: Home, kind: str) -> None:
    """Put the fake ``ollama`` binary first on PATH, with runner kind ``kind``."""
    home.env.update(
        ELITE_RUNNER__KIND=kind,
        PATH=f"{FAKE_BIN}{os.pathsep}{home.env['PATH']}",
        ELITE_TEST_PYTHON=sys.executable,
        PYTHONPATH=str(REPO),
    )


def test_auto_picks_ollama_on_path_and_supervises_it(home: Home) -> None:
    use_fake_ollama(home, "auto")
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    runner = statuses(home)["runner"]
    assert runner["kind"] == "ollama"
    assert runner["url"] == f"http://127.0.0.1:{home.runner_port}"  # OLLAMA_HOST was honoured
    chat = home.cli("chat", "--model", "llama3.2", "code please")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip() == OllamaDouble().answer
    piped = home.cli("chat", "--model", "llama3.2", input="the prompt from stdin\n")
    assert piped.returncode == 0 and piped.stdout.strip() == OllamaDouble().answer
    missing = home.cli("chat", "--model", "nope", "hi")
    assert missing.returncode == 1
    assert "model 'nope' not found" in missing.stderr
    assert home.cli("stack", "down").returncode == 0


@pytest.fixture
def external_double() -> Iterator[str]:
    yield from serve_in_thread(build_app(OllamaDouble()))


def test_external_runner_is_watched_not_started(home: Home, external_double: str) -> None:
    home.env.update(ELITE_RUNNER__KIND="external", ELITE_RUNNER__URL=external_double)
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    runner = statuses(home)["runner"]
    assert (runner["kind"], runner["state"], runner["pid"]) == ("external", "ready", None)
    chat = home.cli("chat", "--model", "llama3.2", "hi")
    assert chat.returncode == 0, chat.stderr
    assert home.cli("stack", "down").returncode == 0


def test_external_runner_that_does_not_answer_fails_up(home: Home) -> None:
    home.env.update(ELITE_RUNNER__KIND="external", ELITE_RUNNER__URL="http://127.0.0.1:9")
    up = home.cli("stack", "up")
    assert up.returncode == 1
    assert "runner: not ready after 10 s" in up.stderr
    assert {s["state"] for s in statuses(home).values()} == {"stopped"}


def test_conversations_from_the_command_line(home: Home, external_double: str) -> None:
    home.env.update(ELITE_RUNNER__KIND="external", ELITE_RUNNER__URL=external_double)
    assert home.cli("stack", "up").returncode == 0
    assert home.cli("chat", "--model", "llama3.2", "Explain list comprehensions").returncode == 0
    listed = json.loads(home.cli("conversations", "list", "--json").stdout)
    assert listed["total"] == 1
    conversation_id = listed["conversations"][0]["id"]
    table = home.cli("conversations", "list", "--query", "comprehens").stdout
    assert conversation_id in table and "Explain list comprehensions" in table
    assert "no conversations" in home.cli("conversations", "list", "-q", "zzz").stdout
    shown = home.cli("conversations", "show", conversation_id).stdout
    assert "--- user" in shown and "--- assistant [llama3.2]" in shown
    markdown = home.cli("conversations", "export", conversation_id).stdout
    assert markdown.startswith("# Explain list comprehensions")
    exported = json.loads(
        home.cli("conversations", "export", conversation_id, "--format", "json").stdout
    )
    assert len(exported["messages"]) == 2
    assert home.cli("conversations", "delete", conversation_id).returncode == 0
    gone = home.cli("conversations", "show", conversation_id)
    assert gone.returncode == 1
    assert f"404: no conversation '{conversation_id}'" in gone.stderr
    assert home.cli("stack", "down").returncode == 0
