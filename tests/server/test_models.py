"""Model management through the server: Ollama's side against the double built from the
recorded API, the built-in side's GGUF folder for real (files on disk)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import wait_for
from tests.fakes.ollama_double import OllamaDouble
from tests.fakes.openai_double import OpenAIDouble
from tests.server.conftest import AUTH, MakeClient, ndjson


def test_installed_and_loaded_with_their_figures(client: TestClient, double: OllamaDouble) -> None:
    models = client.get("/api/models", headers=AUTH).json()["models"]
    first = models[0]
    assert first["name"] == "deepseek-r1:latest" and first["size"] == 4683075271
    assert first["family"] == "qwen2" and first["quantization"] == "Q4_K_M"
    assert first["modified_at"].startswith("2025-05-10") and len(first["digest"]) == 64

    double.loaded = [
        {
            "name": "llama3.2:latest",
            "model": "llama3.2:latest",
            "size": 4_000_000_000,
            "size_vram": 1_000_000_000,  # three quarters spilled to the CPU
            "digest": "a" * 64,
            "expires_at": "2026-11-26T10:00:00Z",
            "context_length": 4096,
        }
    ]
    loaded = client.get("/api/models/loaded", headers=AUTH).json()["models"]
    assert loaded == [
        {
            "name": "llama3.2:latest",
            "size": 4_000_000_000,
            "size_vram": 1_000_000_000,
            "gpu_share": 0.25,
            "context_length": 4096,
            "expires_at": "2026-11-26T10:00:00+00:00",
        }
    ]


def test_details_delete_unload(client: TestClient, double: OllamaDouble) -> None:
    shown = client.get("/api/models/llama3.2:latest", headers=AUTH).json()
    assert "TEMPLATE" in shown["modelfile"] and shown["parameters"]
    assert client.get("/api/models/nope:1", headers=AUTH).status_code == 404

    assert client.post("/api/models/llama3.2/unload", headers=AUTH).status_code == 204
    assert double.unloaded == ["llama3.2"]

    assert client.delete("/api/models/llama3.2:latest", headers=AUTH).status_code == 204
    names = [m["name"] for m in client.get("/api/models", headers=AUTH).json()["models"]]
    assert names == ["deepseek-r1:latest"]
    missing = client.delete("/api/models/llama3.2:latest", headers=AUTH)
    assert missing.status_code == 404 and "not found" in missing.json()["error"]


def test_pull_progress_failure_and_cancel(client: TestClient, double: OllamaDouble) -> None:
    events = ndjson(
        client.post("/api/models/pull", json={"name": "qwen2.5-coder"}, headers=AUTH).text
    )
    assert events[0] == {"status": "pulling manifest"}
    layer = [e for e in events if "total" in e]
    assert len(layer) == 5 and layer[-1]["completed"] == layer[-1]["total"]
    assert events[-1] == {"status": "success"}
    names = [m["name"] for m in client.get("/api/models", headers=AUTH).json()["models"]]
    assert "qwen2.5-coder:latest" in names

    failed = client.post("/api/models/pull", json={"name": "does-not-exist"}, headers=AUTH)
    assert failed.status_code == 200  # the failure arrives mid-stream, as Ollama sends it
    assert "file does not exist" in ndjson(failed.text)[-1]["error"]

    double.delay_s, double.pull_steps = 0.2, 50
    cancelled = double.pulls_cancelled
    with client.stream("POST", "/api/models/pull", json={"name": "gemma4"}, headers=AUTH) as r:
        lines = r.iter_lines()
        next(lines), next(lines)  # under way, then the client leaves
    # The server passed the cancel on: the runner's pull stopped (and registers nothing).
    wait_for(lambda: double.pulls_cancelled == cancelled + 1, 10, "the runner's pull to stop")
    names = [m["name"] for m in client.get("/api/models", headers=AUTH).json()["models"]]
    assert "gemma4:latest" not in names


def test_builtin_folder_import_and_delete(
    make_client: MakeClient, openai_backend: OpenAIDouble, tmp_path: Path
) -> None:
    folder, bundled = tmp_path / "models", tmp_path / "bundled.gguf"
    bundled.write_bytes(b"GGUF" + b"\0" * 1000)
    client = make_client(
        backend="openai", backend_url=openai_backend.url, models_dir=folder, bundled_model=bundled
    )
    source = tmp_path / "mine.gguf"
    source.write_bytes(b"GGUF" + b"x" * (20 * 1024 * 1024))
    events = ndjson(
        client.post(
            "/api/models/import", json={"path": str(source), "name": "coder"}, headers=AUTH
        ).text
    )
    assert events[0]["status"] == "copying" and events[-1]["status"] == "success"
    assert [e["completed"] for e in events if e["status"] == "copying"][-1] == source.stat().st_size
    assert (folder / "coder.gguf").read_bytes() == source.read_bytes()
    listed = {m["name"]: m for m in client.get("/api/models", headers=AUTH).json()["models"]}
    assert listed["coder"]["size"] == source.stat().st_size and listed["bundled"]["bundled"]

    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("hello")
    refused = client.post("/api/models/import", json={"path": str(not_gguf)}, headers=AUTH)
    assert refused.status_code == 409 and "not a GGUF file" in refused.json()["error"]
    again = client.post(
        "/api/models/import", json={"path": str(source), "name": "coder"}, headers=AUTH
    )
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    gone = client.post("/api/models/import", json={"path": "/nope.gguf"}, headers=AUTH)
    assert gone.status_code == 404

    assert client.delete("/api/models/bundled", headers=AUTH).status_code == 409
    assert client.delete("/api/models/coder", headers=AUTH).status_code == 204
    assert not (folder / "coder.gguf").exists()
    assert list(folder.iterdir()) == []  # no partial file left either
    pull = client.post("/api/models/pull", json={"name": "x"}, headers=AUTH)
    assert pull.status_code == 409 and "import it" in pull.json()["error"]
    assert json.loads(client.get("/api/models/loaded", headers=AUTH).text)["error"]


def test_conversations_per_model_are_counted_on_the_server(
    client: TestClient, tmp_path: Path
) -> None:
    """Counted in the database: right beyond any page size of the conversation list."""
    import sqlite3
    import uuid

    with sqlite3.connect(tmp_path / "data" / "assistant.db") as db:
        db.executemany(
            "INSERT INTO conversations (id, title, pinned, model, created_at, updated_at)"
            " VALUES (?, 't', 0, ?, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            [(uuid.uuid4().hex, "llama3.2:latest") for _ in range(250)]
            + [(uuid.uuid4().hex, "deepseek-r1:latest") for _ in range(3)]
            + [(uuid.uuid4().hex, None)],
        )
    models = client.get("/api/models", headers=AUTH).json()["models"]
    assert {m["name"]: m["conversations"] for m in models} == {
        "deepseek-r1:latest": 3,
        "llama3.2:latest": 250,
    }
