"""API keys: created once and shown once, stored hashed, counted, revoked at once; the
``elite-assistant-server keys`` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from embedded_server import __version__
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, serve_in_thread
from tests.server.conftest import AUTH, TOKEN, run_server


def server_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir)}
    env.pop("ASSISTANT_DATABASE_URL", None)
    return run_server(env, *args)


def stored_anywhere(data_dir: Path, secret: str) -> bool:
    """Whether ``secret`` is in the database's files, read by another process: closing a
    descriptor of the file here would drop the in-process server's SQLite locks."""
    files = [str(p) for p in data_dir.glob("assistant.db*")]
    code = (
        "import sys; "
        "sys.exit(any(sys.argv[1].encode() in open(f, 'rb').read() for f in sys.argv[2:]))"
    )
    return subprocess.run([sys.executable, "-c", code, secret, *files]).returncode == 1


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "srv"


@pytest.fixture
def server(double: OllamaDouble, data_dir: Path) -> Iterator[str]:
    settings = Settings(
        api_token=TOKEN, backend_url=double.url, data_dir=data_dir, rate_limit="off"
    )
    yield from serve_in_thread(create_app(settings))


def test_a_key_is_shown_once_stored_hashed_counted_and_revoked_at_once(
    server: str, data_dir: Path
) -> None:
    created = server_cli(data_dir, "keys", "create", "editor-alice")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("eca_") and len(key) > 40
    assert "shown this once" in created.stderr
    assert not stored_anywhere(data_dir, key[12:])  # only its hash (and prefix) are kept

    as_alice = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{server}/v1/models", headers=as_alice).status_code == 200
    assert httpx.get(f"{server}/api/conversations", headers=as_alice).status_code == 200
    listed = server_cli(data_dir, "keys", "list").stdout
    row = next(line for line in listed.splitlines() if line.startswith("editor-alice"))
    assert key[:12] in row and " 2 " in row and "active" in row  # two requests counted

    again = server_cli(data_dir, "keys", "create", "editor-alice")
    assert again.returncode == 1 and "exists already" in again.stderr

    assert server_cli(data_dir, "keys", "revoke", "editor-alice").returncode == 0
    refused = httpx.get(f"{server}/v1/models", headers=as_alice)  # the next request
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"
    assert "revoked" in server_cli(data_dir, "keys", "list").stdout


def test_a_made_up_key_and_a_bad_name_are_refused(server: str, data_dir: Path) -> None:
    fake = {"Authorization": "Bearer eca_" + "x" * 43}
    assert httpx.get(f"{server}/api/models", headers=fake).status_code == 401
    bad = server_cli(data_dir, "keys", "create", "no spaces please")
    assert bad.returncode == 1 and "not a key name" in bad.stderr
    assert server_cli(data_dir, "keys", "revoke", "nobody").returncode == 1
    assert server_cli(data_dir, "migrate").returncode == 0


def test_each_key_sees_only_its_own_conversations_and_the_admin_sees_all(
    server: str, data_dir: Path
) -> None:
    alice, bob = (
        {"Authorization": f"Bearer {server_cli(data_dir, 'keys', 'create', n).stdout.strip()}"}
        for n in ("alice", "bob")
    )
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "Alice's question"}]}
    asked = httpx.post(f"{server}/v1/chat/completions", json=body, headers=alice)
    assert asked.status_code == 200, asked.text

    mine = httpx.get(f"{server}/api/conversations", headers=alice).json()["conversations"]
    assert [c["title"] for c in mine] == ["Alice's question"]
    conversation = mine[0]["id"]
    assert httpx.get(f"{server}/api/conversations", headers=bob).json()["conversations"] == []
    for method in ("GET", "DELETE"):
        refused = httpx.request(method, f"{server}/api/conversations/{conversation}", headers=bob)
        assert refused.status_code == 404, method
    renamed = httpx.patch(
        f"{server}/api/conversations/{conversation}", json={"title": "mine"}, headers=bob
    )
    assert renamed.status_code == 404
    continued = httpx.post(
        f"{server}/api/chat",
        json={**body, "conversation_id": conversation},
        headers=bob,
    )
    assert continued.status_code == 404

    everything = httpx.get(f"{server}/api/conversations", headers=AUTH).json()["conversations"]
    assert [(c["title"], c["owner"]) for c in everything] == [("Alice's question", "alice")]


def test_each_key_has_its_own_rate_limit_and_series(double: OllamaDouble, data_dir: Path) -> None:
    """A key's own limit, the default for another, the admin counted by address; requests
    and tokens in /metrics by key name; the pool's state is the admin's only."""
    settings = Settings(
        api_token=TOKEN, backend_url=double.url, data_dir=data_dir, rate_limit="4/minute"
    )
    for server in serve_in_thread(create_app(settings)):
        alice = server_cli(data_dir, "keys", "create", "alice", "--rate-limit", "2/minute")
        bob = server_cli(data_dir, "keys", "create", "bob")
        assert alice.returncode == 0 and bob.returncode == 0, alice.stderr + bob.stderr
        as_alice = {"Authorization": f"Bearer {alice.stdout.strip()}"}
        as_bob = {"Authorization": f"Bearer {bob.stdout.strip()}"}

        chat = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(f"{server}/v1/chat/completions", headers=as_alice, json=chat)
        assert answer.status_code == 200, answer.text
        assert httpx.get(f"{server}/v1/models", headers=as_alice).status_code == 200
        refused = httpx.get(f"{server}/v1/models", headers=as_alice)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["type"] == "rate_limit_error"
        # Bob's counter is his own (the default, 4), the admin's is the address's.
        assert [httpx.get(f"{server}/v1/models", headers=as_bob).status_code for _ in range(4)] == [
            200
        ] * 4
        assert httpx.get(f"{server}/v1/models", headers=as_bob).status_code == 429
        assert httpx.get(f"{server}/api/keys", headers=AUTH).status_code == 200
        forbidden = httpx.get(f"{server}/api/keys", headers=as_alice)
        assert forbidden.status_code == 429  # over her limit before anything else
        assert server_cli(data_dir, "keys", "limit", "alice", "off").returncode == 0
        forbidden = httpx.get(f"{server}/api/keys", headers=as_alice)
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
        # The pool's state is any key's to read, its runners' addresses the admin's only.
        runners = httpx.get(f"{server}/api/runners", headers=as_alice).json()["runners"]
        assert runners and all(r["url"] is None for r in runners)
        assert httpx.get(f"{server}/api/runners", headers=AUTH).json()["runners"][0]["url"]
        info = httpx.get(f"{server}/api/info", headers=as_alice).json()
        assert info == {"version": __version__, "key": "alice", "admin": False}
        assert httpx.get(f"{server}/api/info", headers=AUTH).json()["admin"] is True

        text = httpx.get(f"{server}/metrics").text
        words = len(OllamaDouble.answer.split(" "))
        assert 'assistant_key_requests_total{key="alice"} 7.0' in text
        assert 'assistant_key_requests_total{key="bob"} 5.0' in text
        assert 'assistant_key_requests_total{key="(admin)"} 3.0' in text
        assert f'assistant_key_tokens_total{{key="alice"}} {words}.0' in text
        listed = server_cli(data_dir, "keys", "list").stdout
        assert (
            next(line for line in listed.splitlines() if line.startswith("alice")).split()[5]
            == "off"  # the rate limit column
        )
    bad = server_cli(data_dir, "keys", "limit", "bob", "lots")
    assert bad.returncode == 1 and "not a rate limit" in bad.stderr


def test_the_admin_token_manages_keys_over_http(server: str) -> None:
    created = httpx.post(
        f"{server}/api/keys", json={"name": "ci-bot", "rate_limit": "5/minute"}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith(body["prefix"]) and body["rate_limit"] == "5/minute"
    as_bot = {"Authorization": f"Bearer {body['key']}"}
    assert httpx.get(f"{server}/v1/models", headers=as_bot).status_code == 200
    assert httpx.get(f"{server}/api/keys", headers=as_bot).status_code == 403  # admin only

    listed = httpx.get(f"{server}/api/keys", headers=AUTH).json()["keys"]
    assert [(k["name"], k["requests"]) for k in listed] == [("ci-bot", 2)]
    assert "key" not in listed[0] and body["key"] not in json.dumps(listed)
    changed = httpx.patch(f"{server}/api/keys/ci-bot", json={"rate_limit": "off"}, headers=AUTH)
    assert changed.status_code == 200 and changed.json()["rate_limit"] == ""

    for refused, status in (
        (httpx.post(f"{server}/api/keys", json={"name": "ci-bot"}, headers=AUTH), 409),
        (httpx.post(f"{server}/api/keys", json={"name": "no spaces"}, headers=AUTH), 422),
        (httpx.patch(f"{server}/api/keys/ci-bot", json={"rate_limit": "x"}, headers=AUTH), 422),
        (httpx.delete(f"{server}/api/keys/nobody", headers=AUTH), 404),
    ):
        assert refused.status_code == status, refused.text
    assert httpx.delete(f"{server}/api/keys/ci-bot", headers=AUTH).status_code == 204
    assert httpx.get(f"{server}/v1/models", headers=as_bot).status_code == 401
    assert httpx.get(f"{server}/api/keys", headers=AUTH).json()["keys"][0]["revoked"] is True


def test_a_key_lists_models_but_only_the_admin_changes_them(server: str) -> None:
    created = httpx.post(f"{server}/api/keys", json={"name": "ci-models"}, headers=AUTH)
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert httpx.get(f"{server}/api/models", headers=key).status_code == 200
    for method, path, body in (
        ("POST", "/api/models/pull", {"name": "llama3.2"}),
        ("POST", "/api/models/import", {"path": "/tmp/x.gguf"}),
        ("POST", "/api/models/llama3.2/unload", None),
        ("DELETE", "/api/models/llama3.2", None),
    ):
        refused = httpx.request(method, f"{server}{path}", json=body, headers=key)
        assert refused.status_code == 403, path
        assert refused.json()["error"] == "this needs the admin token"
    assert httpx.post(f"{server}/api/models/llama3.2/unload", headers=AUTH).status_code == 204


def test_revoking_a_key_on_one_replica_ends_its_answer_streaming_on_another(
    double: OllamaDouble, database_url: str, tmp_path: Path
) -> None:
    double.answer = " ".join(f"w{i}" for i in range(400))
    double.delay_s = 0.05  # a 20-second answer
    settings = Settings(
        api_token=TOKEN,
        backend_url=double.url,
        data_dir=tmp_path / "srv",
        database_url=database_url,
        rate_limit="off",
    )
    replicas = [serve_in_thread(create_app(settings)) for _ in range(2)]
    replica_a, replica_b = (next(replica) for replica in replicas)
    try:
        created = httpx.post(f"{replica_a}/api/keys", json={"name": "leaver"}, headers=AUTH)
        as_leaver = {"Authorization": f"Bearer {created.json()['key']}"}
        body = {"model": "llama3.2", "messages": [{"role": "user", "content": "go on"}]}
        events = []
        with httpx.stream(
            "POST", f"{replica_b}/api/chat", json=body, headers=as_leaver, timeout=30
        ) as answer:
            for line in answer.iter_lines():
                events.append(json.loads(line))
                if len(events) == 3:  # streaming: revoked on the other replica
                    revoked = httpx.delete(f"{replica_a}/api/keys/leaver", headers=AUTH)
                    assert revoked.status_code == 204
        assert events[-1] == {
            "type": "error",
            "message": "the API key was revoked",
            "code": "key_revoked",
        }
        said = "".join(e["content"] for e in events if e["type"] == "token")
        assert said and len(said) < len(double.answer)  # ended long before its end
        conversation = events[0]["conversation_id"]
        stored = httpx.get(f"{replica_a}/api/conversations/{conversation}", headers=AUTH).json()
        assert stored["messages"][-1]["status"] == "incomplete"
        assert stored["messages"][-1]["content"] == said
    finally:
        for replica in replicas:
            replica.close()


def test_the_command_line_sets_and_clears_a_keys_limits(data_dir: Path) -> None:
    created = server_cli(
        data_dir, "keys", "create", "ci", "--rpm", "30", "--tpm", "5000", "--models", "a,b"
    )
    assert created.returncode == 0, created.stderr
    row = next(line for line in server_cli(data_dir, "keys", "list").stdout.splitlines()[1:])
    assert "30/minute" in row and "models=a,b tpm=5000" in row
    updated = server_cli(data_dir, "keys", "update", "ci", "--tpm", "default", "--parallel", "2")
    assert updated.returncode == 0, updated.stderr
    row = server_cli(data_dir, "keys", "list").stdout.splitlines()[1]
    assert "models=a,b parallel=2" in row and "tpm" not in row
    refused = server_cli(data_dir, "keys", "update", "ci", "--tpm", "-3")
    assert refused.returncode == 2 and "invalid limit value" in refused.stderr
    missing = server_cli(data_dir, "keys", "update", "nobody", "--tpm", "1")
    assert missing.returncode == 1 and "no key called 'nobody'" in missing.stderr
