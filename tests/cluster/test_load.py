"""The load test people can run (``packaging/loadtest/locustfile.py``), short, against the
team's topology (nginx, three replicas on PostgreSQL and Redis, the runner pool): developers
chatting, editors completing, and one key flooding at many times its limits. No 5xx, no
answer lost (every one the users started is in its key's usage), the flood refused by its
limits while the others' answers all end."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cluster.topology import AUTH, Cluster
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster")]
LOCUSTFILE = REPO / "packaging" / "loadtest" / "locustfile.py"
SECONDS = 60  # a minute: long enough for the flood to meet both its limits


def test_a_team_and_a_flood_through_nginx(cluster: Cluster, tmp_path: Path) -> None:
    cluster.whole()
    keys = {}
    for kind, limits in (
        ("chat", {}),
        ("editor", {}),
        ("flood", {"parallel": 1, "tpm": 400}),  # many times less than it asks
    ):
        created = httpx.post(
            f"{cluster.url}/api/keys", json={"name": f"load-{kind}", **limits}, headers=AUTH
        )
        assert created.status_code == 201, created.text
        keys[kind] = created.json()["key"]
    report = tmp_path / "load"
    env = {**os.environ, "ELITE_LOAD_KEYS": json.dumps(keys)}
    run = subprocess.run(
        [
            *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"),
            *("-u", "10", "-r", "10", "-t", f"{SECONDS}s", "--stop-timeout", "10"),
            *("--host", cluster.url, "--csv", str(report), "--only-summary"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
    )
    stats = {row["Name"]: row for row in rows(Path(f"{report}_stats.csv"))}
    failures = rows(Path(f"{report}_failures.csv"))
    assert run.returncode == 0 and not failures, (failures, run.stderr[-2000:])
    for name in ("chat", "fim", "chat first token", "fim first token"):
        assert int(stats[name]["Request Count"]) > 0 and stats[name]["Failure Count"] == "0"
    assert int(stats["refused"]["Request Count"]) > 0  # the flood met its limits
    # Every answer the developers started ended, answered or cut by the run's stop (kept
    # incomplete), and is counted in the key's usage: none lost, none left streaming.
    as_chat = {"Authorization": f"Bearer {keys['chat']}"}
    answered = int(stats["chat first token"]["Request Count"])
    listed = httpx.get(f"{cluster.url}/api/conversations?limit=200", headers=as_chat).json()
    answers = [
        message
        for conversation in listed["conversations"]
        for message in httpx.get(
            f"{cluster.url}/api/conversations/{conversation['id']}", headers=as_chat
        ).json()["messages"]
        if message["role"] == "assistant"
    ]
    statuses = [m["status"] for m in answers]
    assert statuses.count("complete") >= answered and "streaming" not in statuses
    usage = httpx.get(f"{cluster.url}/api/keys/load-chat/usage", headers=AUTH).json()
    assert usage["total"]["requests"] == len(answers) and usage["total"]["errors"] == 0


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as table:
        return list(csv.DictReader(table))
