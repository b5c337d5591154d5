"""The team topology (see conftest.py): replicas behind nginx behave as one server, and
the pool routes around a dead runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.cluster.topology import AUTH, BUILTIN_MODEL, Cluster
from tests.conftest import wait_for

# the pool has the built-in runner with its bundled model; one topology for the package
pytestmark = [pytest.mark.model, pytest.mark.xdist_group("cluster")]
ASK = {"messages": [{"role": "user", "content": "hi"}]}


def chat(url: str, headers: dict[str, str] = AUTH, **body: Any) -> list[dict[str, Any]]:
    """One short answer, its NDJSON events (the model of the Ollama doubles by default)."""
    request = {"model": "llama3.2", **ASK, "options": {"max_tokens": 4}, **body}
    response = httpx.post(f"{url}/api/chat", json=request, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def done(events: list[dict[str, Any]]) -> bool:
    return bool(events) and events[-1]["type"] == "done"


def open_streams(stack: ExitStack, url: str, count: int) -> list[Iterator[str]]:
    """``count`` answers streaming at once through ``url``, each past its first token."""
    client = stack.enter_context(httpx.Client(timeout=60))
    readers = []
    for _ in range(count):
        response = stack.enter_context(
            client.stream(
                "POST", f"{url}/api/chat", json={"model": "llama3.2", **ASK}, headers=AUTH
            )
        )
        readers.append(response.iter_lines())
        while json.loads(next(readers[-1]))["type"] != "token":
            pass
    return readers


def finished(reader: Iterator[str]) -> bool:
    """Whether the rest of a stream arrives and ends with ``done``."""
    last: dict[str, Any] = {}
    try:
        for line in reader:
            last = json.loads(line)
    except httpx.HTTPError:  # the connection broke mid-answer
        return False
    return last.get("type") == "done"


def test_replicas_started_together_on_an_empty_database_migrate_it_once(
    cluster: Cluster,
) -> None:
    logs = [replica.log.read_text() for replica in cluster.replicas]
    assert sum(log.count("Running upgrade  -> 0001") for log in logs) == 1, logs
    for replica in cluster.replicas:
        assert httpx.get(f"{replica.url}/ready").json()["checks"] == {
            "database": "ok",
            "backend": "ok",
            "rate_limit_store": "ok",
        }


def test_streams_through_nginx_land_on_every_replica(cluster: Cluster) -> None:
    before = [
        cluster.metric("http_requests_total", r, endpoint="/api/chat") for r in cluster.replicas
    ]
    with ThreadPoolExecutor(9) as pool:
        answers = list(pool.map(lambda _: chat(cluster.url), range(9)))
    assert all(done(events) for events in answers)
    after = [
        cluster.metric("http_requests_total", r, endpoint="/api/chat") for r in cluster.replicas
    ]
    served = [b - a for a, b in zip(before, after, strict=True)]
    assert sum(served) == 9 and all(served), served


def test_the_union_of_the_pools_models_and_the_built_in_runner_in_it(cluster: Cluster) -> None:
    models = {m["id"] for m in httpx.get(f"{cluster.url}/v1/models", headers=AUTH).json()["data"]}
    assert BUILTIN_MODEL in models and "llama3.2:latest" in models
    before = cluster.metric("assistant_runner_requests_total", runner="builtin")
    events = chat(cluster.url, model=BUILTIN_MODEL, options={"max_tokens": 16})
    assert done(events) and events[0]["model"] == BUILTIN_MODEL, events[-3:]
    assert cluster.metric("assistant_runner_requests_total", runner="builtin") == before + 1


def test_a_conversation_started_on_one_replica_continues_on_another(cluster: Cluster) -> None:
    first, second, third = cluster.replicas
    started = chat(first.url, messages=[{"role": "user", "content": "one"}])
    conversation = started[0]["conversation_id"]
    assert done(
        chat(
            second.url, conversation_id=conversation, messages=[{"role": "user", "content": "two"}]
        )
    )
    shown = httpx.get(f"{third.url}/api/conversations/{conversation}", headers=AUTH).json()
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"] * 2
    assert [m["status"] for m in shown["messages"]][-1] == "complete"


def test_a_replica_killed_mid_stream_fails_only_its_own_streams(cluster: Cluster) -> None:
    victim = cluster.replicas[0]
    try:
        with ExitStack() as stack:
            readers = open_streams(stack, cluster.url, 6)
            own = int(cluster.metric("assistant_active_streams", victim))
            assert 0 < own < 6  # nginx spread them (least_conn)
            victim.kill()
            results = [finished(reader) for reader in readers]
        assert results.count(False) == own and results.count(True) == 6 - own
        assert all(done(chat(cluster.url)) for _ in range(4))  # nginx skips the dead one
    finally:
        cluster.whole()


def test_a_killed_runner_is_routed_around_and_comes_back(cluster: Cluster) -> None:
    """Requests sent while it dies succeed elsewhere (none had a token from it); once every
    replica has it down, no request reaches it; started again, it is checked back in and
    gets requests."""
    runner = cluster.runners["ollama-a"]
    try:
        runner.kill()
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: chat(cluster.url), range(6)))
        assert all(done(events) for events in answers)
        for replica in cluster.replicas:
            wait_for(lambda r=replica: cluster.runner_state("ollama-a", r) == "down", 15, "out")
        sent = cluster.metric("assistant_runner_requests_total", runner="ollama-a")
        assert all(done(chat(cluster.url)) for _ in range(10))
        assert cluster.metric("assistant_runner_requests_total", runner="ollama-a") == sent

        runner.start()
        runner.wait_ready()
        for replica in cluster.replicas:
            wait_for(lambda r=replica: cluster.runner_state("ollama-a", r) == "up", 15, "back")
        for _ in range(40):  # idle runners tie and are chosen at random
            chat(cluster.url)
            if cluster.metric("assistant_runner_requests_total", runner="ollama-a") > sent:
                break
        assert cluster.metric("assistant_runner_requests_total", runner="ollama-a") > sent
    finally:
        cluster.whole()


def test_a_revoked_key_is_refused_by_every_replica_at_once(cluster: Cluster) -> None:
    created = cluster.server_command("keys", "create", "ci-revoked")
    assert created.returncode == 0, created.stderr
    key = {"Authorization": f"Bearer {created.stdout.strip()}"}
    for replica in cluster.replicas:
        assert httpx.get(f"{replica.url}/v1/models", headers=key).status_code == 200
    assert cluster.server_command("keys", "revoke", "ci-revoked").returncode == 0
    for replica in cluster.replicas:  # the very next request, on each of them
        assert httpx.get(f"{replica.url}/v1/models", headers=key).status_code == 401


def test_a_key_cannot_read_another_keys_conversations(cluster: Cluster) -> None:
    keys = {}
    for name in ("ci-alice", "ci-bob"):
        created = cluster.server_command("keys", "create", name)
        assert created.returncode == 0, created.stderr
        keys[name] = {"Authorization": f"Bearer {created.stdout.strip()}"}
    conversation = chat(cluster.url, keys["ci-alice"])[0]["conversation_id"]
    for replica in cluster.replicas:
        path = f"{replica.url}/api/conversations/{conversation}"
        assert httpx.get(path, headers=keys["ci-bob"]).status_code == 404
        assert httpx.get(path, headers=keys["ci-alice"]).status_code == 200
        assert httpx.get(path, headers=AUTH).status_code == 200  # the admin sees all
        listed = httpx.get(f"{replica.url}/api/conversations", headers=keys["ci-bob"]).json()
        assert conversation not in json.dumps(listed)
