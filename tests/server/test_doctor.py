"""``elite-assistant-server doctor``: every check passes on a working deployment (real
PostgreSQL and Redis, a runner answering), and each broken part fails with what to do,
changing nothing (an unmigrated database stays unmigrated)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fakes.ollama_double import OllamaDouble, free_port
from tests.server.conftest import TOKEN, redis_test_url


def doctor(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    run = subprocess.run(
        [sys.executable, "-m", "embedded_server", "doctor", "--json"],
        env={k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return run.returncode, json.loads(run.stdout)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in report["checks"]}


def test_a_working_deployment_passes_every_check(
    double: OllamaDouble, database_url: str, tmp_path: Path
) -> None:
    env = {
        "ASSISTANT_API_TOKEN": TOKEN,
        "ASSISTANT_PORT": str(free_port()),
        "ASSISTANT_BACKEND_URL": double.url,
        "ASSISTANT_DATABASE_URL": database_url,
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
    }
    if database_url.startswith("postgresql"):
        env["ASSISTANT_REDIS_URL"] = redis_test_url(1)
    code, report = doctor(env)
    assert statuses(report)["database"] == "warn"  # not migrated yet: said, not done
    assert report["checks"][2]["advice"]  # (migrate, or: made at the first start)
    migrated = subprocess.run(
        [sys.executable, "-m", "embedded_server", "migrate"],
        env={**os.environ, **env},
        capture_output=True,
    )
    assert migrated.returncode == 0, migrated.stderr
    code, report = doctor(env)
    assert code == 0 and report["ok"], report
    found = statuses(report)
    assert set(found.values()) == {"ok"} and f"runner {double.url.removeprefix('http://')}" in found
    assert ("redis" in found) == database_url.startswith("postgresql")
    assert TOKEN not in json.dumps(report)


def test_each_broken_part_fails_with_what_to_do(tmp_path: Path) -> None:
    code, report = doctor({"ASSISTANT_PORT": "not-a-port"})
    assert code == 1 and report["checks"][0]["name"] == "settings"
    assert report["checks"][0]["status"] == "fail" and "port" in report["checks"][0]["detail"]

    damaged = tmp_path / "assistant.db"
    damaged.write_bytes(b"not a database" * 100)
    code, report = doctor(
        {
            "ASSISTANT_DATABASE_URL": f"sqlite:///{damaged}",
            "ASSISTANT_BACKEND_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens
            "ASSISTANT_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "ASSISTANT_DATA_DIR": str(tmp_path),
        }
    )
    found = statuses(report)
    assert code == 1 and found["database"] == found["redis"] == "fail"
    assert [s for n, s in found.items() if n.startswith("runner")] == ["fail"]
    assert all(c["advice"] for c in report["checks"] if c["status"] == "fail")
    assert damaged.read_bytes() == b"not a database" * 100  # looked at, not changed


def test_a_port_taken_by_another_program(tmp_path: Path) -> None:
    import socket

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        code, report = doctor({"ASSISTANT_PORT": str(port), "ASSISTANT_DATA_DIR": str(tmp_path)})
    assert statuses(report)["port"] == "fail" and code == 1
