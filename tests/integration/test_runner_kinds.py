"""The Ollama runner kinds, against the Ollama test double (no Ollama binary runs here):
``auto`` finding an ``ollama`` on PATH and supervising ``ollama serve``, and ``external``."""

from __future__ import annotations

import json
import os
import subprocess
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


def test_models_from_the_command_line(home: Home, external_double: str) -> None:
    home.env.update(ELITE_RUNNER__KIND="external", ELITE_RUNNER__URL=external_double)
    assert home.cli("stack", "up").returncode == 0
    listed = home.cli("models", "list")
    assert listed.returncode == 0 and "deepseek-r1:latest" in listed.stdout
    ps = home.cli("models", "ps")
    assert ps.returncode == 0 and "mistral:latest" in ps.stdout and "100% GPU" in ps.stdout
    loaded = json.loads(home.cli("models", "ps", "--json").stdout)["models"]
    assert loaded[0]["gpu_share"] == 1.0
    pulled = home.cli("models", "pull", "gemma3")
    assert pulled.returncode == 0, pulled.stderr
    assert "pulled gemma3" in pulled.stdout
    names = [m["name"] for m in json.loads(home.cli("models", "list", "--json").stdout)["models"]]
    assert "gemma3:latest" in names
    assert home.cli("models", "rm", "gemma3:latest").returncode == 0
    names = [m["name"] for m in json.loads(home.cli("models", "list", "--json").stdout)["models"]]
    assert "gemma3:latest" not in names
    failed = home.cli("models", "pull", "does-not-exist")
    assert failed.returncode == 1 and "file does not exist" in failed.stderr


def test_stack_commands_one_service_at_a_time(home: Home, external_double: str) -> None:
    """stop, start, restart one service or all, logs -f, and a runner switch refused."""
    home.env.update(ELITE_RUNNER__KIND="external", ELITE_RUNNER__URL=external_double)
    assert home.cli("stack", "up", "--runner", "external").returncode == 0
    first = statuses(home)["assistant"]["pid"]
    switch = home.cli("stack", "up", "--runner", "builtin")
    assert switch.returncode == 1 and "runs with the external runner" in switch.stderr

    assert home.cli("stack", "stop", "assistant").returncode == 0
    assert statuses(home)["assistant"]["state"] == "stopped"
    assert statuses(home)["runner"]["state"] == "ready"
    assert home.cli("stack", "start", "assistant").returncode == 0
    second = statuses(home)["assistant"]["pid"]
    assert statuses(home)["assistant"]["state"] == "ready" and second != first

    assert home.cli("stack", "restart", "assistant").returncode == 0
    third = statuses(home)["assistant"]
    assert third["state"] == "ready" and third["pid"] not in (first, second)
    assert home.cli("stack", "restart").returncode == 0
    assert {s["state"] for s in statuses(home).values()} == {"ready"}
    assert statuses(home)["assistant"]["pid"] != third["pid"]

    follow = subprocess.Popen(
        [sys.executable, "-m", "elite_panel", "stack", "logs", "assistant", "-f", "-n", "0"],
        env=home.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert home.cli("stack", "restart", "assistant").returncode == 0  # writes new lines
        assert follow.stdout is not None
        line = follow.stdout.readline()  # a line written after we started following
        assert line.strip(), "logs -f printed nothing"
        assert follow.poll() is None  # still following
    finally:
        follow.terminate()
        follow.wait(timeout=10)
    assert home.cli("stack", "down").returncode == 0


def test_two_stack_ups_at_the_same_moment(home: Home, external_double: str) -> None:
    home.env.update(ELITE_RUNNER__KIND="external", ELITE_RUNNER__URL=external_double)
    ups = [
        subprocess.Popen(
            [sys.executable, "-m", "elite_panel", "stack", "up"],
            env=home.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(up.wait(timeout=120), up.communicate()) for up in ups]
    assert [code for code, _ in results] == [0, 0], results
    assert len(home.daemon_pids()) == 1
    assistants = [p for p in home.processes() if "embedded_server" in " ".join(p.cmdline())]
    assert len(assistants) == 1  # one supervisor, one assistant: the second up found it
    assert home.cli("stack", "down").returncode == 0
