"""Secrets against the real Secret Service (GNOME Keyring in a private D-Bus session):
set, list, handed to the services at start, never in a file, deleted; and no keyring."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from tests.conftest import Home

API_KEY = "sk-elite-test-0123456789abcdef"
CUSTOM = "custom-value-9f8e7d6c5b4a"


def secrets(home: Home) -> dict[str, dict[str, object]]:
    result = home.cli("secrets", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["secrets"]}


def files_containing(root: Path, *values: str) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_socket():
            data = path.read_bytes()
            found += [path for v in values if v.encode() in data]
    return found


def test_set_list_delete_and_names_only_on_disk(real_keyring: Home) -> None:
    home = real_keyring
    assert home.cli("secrets", "set", "OPENAI_API_KEY", input=API_KEY + "\n").returncode == 0
    assert home.cli("secrets", "set", "MY_TOKEN", input=CUSTOM).returncode == 0
    listed = secrets(home)
    assert listed["OPENAI_API_KEY"]["source"] == "keyring"
    assert listed["OPENAI_API_KEY"]["last4"] == API_KEY[-4:]
    assert listed["MY_TOKEN"]["services"] == ["runner", "assistant"]
    assert listed["HF_TOKEN"]["set"] is False
    text = home.cli("secrets", "list").stdout
    assert API_KEY not in text and CUSTOM not in text
    assert files_containing(home.root, API_KEY, CUSTOM) == []

    assert home.cli("secrets", "delete", "MY_TOKEN").returncode == 0
    after = secrets(home)
    assert "MY_TOKEN" not in after and after["OPENAI_API_KEY"]["set"] is True


def test_a_value_on_the_command_line_is_impossible(real_keyring: Home) -> None:
    result = real_keyring.cli("secrets", "set", "OPENAI_API_KEY", API_KEY)
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


def test_environment_wins_and_is_said(real_keyring: Home) -> None:
    home = real_keyring
    home.env["HF_TOKEN"] = "hf_from_the_environment_1234"
    assert secrets(home)["HF_TOKEN"]["source"] == "environment"


def test_without_a_keyring_a_clear_message_and_no_file(home: Home) -> None:
    home.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    result = home.cli("secrets", "set", "MY_TOKEN", input=CUSTOM)
    assert result.returncode == 1
    assert "no OS keyring is available" in result.stderr and "gnome-keyring" in result.stderr
    assert not (home.root / "config" / "secret_names.json").exists()
    listed = home.cli("secrets", "list", "--json")
    assert json.loads(listed.stdout)["keyring"].startswith("no OS keyring")
    assert files_containing(home.root, CUSTOM) == []
    written = [p.relative_to(home.root) for p in home.root.rglob("*") if p.is_file()]
    assert written == []


@pytest.mark.model
@pytest.mark.slow
def test_services_get_their_secrets_and_no_file_holds_them(real_keyring: Home) -> None:
    home = real_keyring
    assert home.cli("secrets", "set", "OPENAI_API_KEY", input=API_KEY).returncode == 0
    assert home.cli("secrets", "set", "MY_TOKEN", input=CUSTOM).returncode == 0
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    status = json.loads(home.cli("stack", "status", "--json").stdout)["services"]
    pids = {s["name"]: int(s["pid"]) for s in status}
    runner_env = psutil.Process(pids["runner"]).environ()
    assistant_env = psutil.Process(pids["assistant"]).environ()
    assert assistant_env["OPENAI_API_KEY"] == API_KEY and "OPENAI_API_KEY" not in runner_env
    assert runner_env["MY_TOKEN"] == CUSTOM == assistant_env["MY_TOKEN"]

    chat = home.cli("chat", "Say hi")
    assert chat.returncode == 0, chat.stderr
    for service in ("runner", "assistant"):
        logs = home.cli("stack", "logs", service, "-n", "500")
        assert logs.returncode == 0 and API_KEY not in logs.stdout and CUSTOM not in logs.stdout
    assert home.cli("stack", "down").returncode == 0
    assert files_containing(home.root, API_KEY, CUSTOM) == []
