"""Hostile or broken input to the server: names that try to leave the models folder, a
damaged database file at start. Each gets a clear answer and nothing is lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakes.ollama_double import free_port
from tests.fakes.openai_double import OpenAIDouble
from tests.server.conftest import AUTH, MakeClient, run_server

ESCAPES = ["../outside", "../../etc/passwd", "a/b", "/abs/path", "..", ".hidden", "x/../../y"]


@pytest.mark.parametrize("name", ESCAPES)
def test_model_names_cannot_leave_the_models_folder(
    make_client: MakeClient, openai_backend: OpenAIDouble, tmp_path: Path, name: str
) -> None:
    folder, bundled = tmp_path / "models", tmp_path / "bundled.gguf"
    bundled.write_bytes(b"GGUF" + b"\0" * 100)
    outside = tmp_path / "outside.gguf"  # what "../outside" would name
    outside.write_bytes(b"GGUF" + b"\1" * 100)
    client = make_client(
        backend="openai", backend_url=openai_backend.url, models_dir=folder, bundled_model=bundled
    )
    source = tmp_path / "mine.gguf"
    source.write_bytes(b"GGUF" + b"x" * 1000)
    imported = client.post(
        "/api/models/import", json={"path": str(source), "name": name}, headers=AUTH
    )
    assert imported.status_code == 409, imported.text
    assert "invalid model name" in imported.json()["error"]
    deleted = client.delete(f"/api/models/{name}", headers=AUTH)
    assert deleted.status_code in (404, 405), deleted.text
    shown = client.get(f"/api/models/{name}", headers=AUTH)
    assert shown.status_code in (404, 405), shown.text
    assert outside.read_bytes() == b"GGUF" + b"\1" * 100 and bundled.exists()
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_damaged_database_is_one_clear_line_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    damaged = os.urandom(64 * 1024)
    (data / "assistant.db").write_bytes(damaged)
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(data),
        "ASSISTANT_PORT": str(free_port()),
        "ASSISTANT_BACKEND_URL": f"http://127.0.0.1:{free_port()}",
    }
    run = run_server(env)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"the database {data / 'assistant.db'} cannot be used" in run.stderr
    assert "restore a backup" in run.stderr
    assert (data / "assistant.db").read_bytes() == damaged  # left exactly as it was


def test_a_nul_character_is_refused_on_every_database(
    make_client: MakeClient, database_url: str
) -> None:
    """PostgreSQL cannot store NUL: refused with 422 everywhere, never a 500 (the fuzzer
    found it)."""
    client = make_client(database_url=database_url)
    chat = client.post(
        "/api/chat", json={"messages": [{"role": "user", "content": "a\u0000b"}]}, headers=AUTH
    )
    assert chat.status_code == 422 and chat.json()["code"] == "invalid_request"
    titled = client.post("/api/conversations", json={"title": "x\u0000"}, headers=AUTH)
    assert titled.status_code == 422
    assert client.get("/api/conversations/a%00b", headers=AUTH).status_code == 422
    assert client.delete("/api/models/a%00b", headers=AUTH).status_code == 422
    assert client.get("/api/conversations", headers=AUTH).json()["total"] == 0
