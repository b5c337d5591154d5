"""``elite-panel doctor``: one line a check with what to do, the exit status, and a support
bundle in which no planted secret survives (keyring, environment, logs, the profile)."""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path

from elite_panel.core.paths import AppPaths
from tests.conftest import Home

KEYRING_SECRET = "sk-keyring-7f3a9c1e5b2d4f6a8c0e"
ENV_SECRET = "env-secret-value-93b1d7f2"
CUSTOM = "custom-token-c4e8a2f6b0d9"
BEARER = "eca_Zq1x8MvT3kP9wR2nL5sY7uB4"


def test_the_checks_say_what_to_do_and_a_taken_port_fails(home: Home) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        home.env["ELITE_ASSISTANT__PORT"] = str(other.getsockname()[1])
        result = home.cli("doctor", "--json")
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert result.returncode == 1 and not report["ok"]
    assert checks["port (assistant)"]["status"] == "fail" and checks["port (assistant)"]["advice"]
    assert checks["stack"]["status"] == "warn" and "stack up" in checks["stack"]["advice"]
    assert {"profile", "runner", "keyring", "gpu", "space (data)"} <= set(checks)

    home.env.pop("ELITE_ASSISTANT__PORT")
    home.env["ELITE_DASHBOARD__CPU_PERCENT"] = "500"  # a profile that does not load
    broken = home.cli("doctor")
    assert broken.returncode == 1 and broken.stdout.startswith("fail  profile")


def test_no_planted_secret_reaches_the_support_bundle(real_keyring: Home, tmp_path: Path) -> None:
    home = real_keyring
    assert home.cli("secrets", "set", "OPENAI_API_KEY", input=KEYRING_SECRET + "\n").returncode == 0
    assert home.cli("secrets", "set", "MY_TOKEN", input=CUSTOM + "\n").returncode == 0
    home.env["HF_TOKEN"] = ENV_SECRET
    paths = AppPaths.from_env(home.env).ensure()
    (paths.logs / "assistant.log").write_text(
        f"INFO a request with Authorization: Bearer {BEARER}\n"
        f"ERROR the runner refused key {KEYRING_SECRET} and {ENV_SECRET} ({CUSTOM})\n"
        "INFO connecting to postgresql://app:hunter2hunter2@db:5432/assistant\n"
        "INFO an ordinary line that stays\n",
        encoding="utf-8",
    )
    profile = paths.profiles / "default.toml"
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text('[remote]\napi_key_secret = "ELITE_REMOTE_API_KEY"\n', encoding="utf-8")
    bundle = tmp_path / "support.zip"
    result = home.cli("doctor", "--bundle", str(bundle))
    assert "support bundle" in result.stdout, result.stderr
    assert oct(bundle.stat().st_mode & 0o777) == "0o600"
    with zipfile.ZipFile(bundle) as opened:
        names = set(opened.namelist())
        raw = b"".join(opened.read(name) for name in names)
    assert {"versions.json", "doctor.json", "gpu.json", "logs/assistant.log"} <= names
    assert "profile-default.toml" in names
    for secret in (KEYRING_SECRET, ENV_SECRET, CUSTOM, BEARER, "hunter2hunter2"):
        assert secret.encode() not in raw, secret
    log = opened_text(bundle, "logs/assistant.log")
    assert "an ordinary line that stays" in log, log
    assert b"ELITE_REMOTE_API_KEY" in raw  # a name, kept


def opened_text(bundle: Path, name: str) -> str:
    with zipfile.ZipFile(bundle) as opened:
        return opened.read(name).decode("utf-8")
