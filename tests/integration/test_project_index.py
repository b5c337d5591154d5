"""The project index on a real code base it did not write (the installed source of httpx,
copied with files planted beside it), embedded by the real built-in runner through the
assistant server: what is left out and why, a planted secret never opened (an audit hook
sees every open), edits and deletions followed by the watcher within seconds, and a
question set's recall@5 (hybrid, keywords only, meaning only)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx as httpx_package
import numpy as np
import pytest

from elite_panel.cli.projects import embedder
from elite_panel.client.assistant import AssistantClient
from elite_panel.projects import watcher
from elite_panel.projects.indexer import Indexer
from elite_panel.projects.search import Mode, search
from elite_panel.projects.store import ProjectIndex
from tests.conftest import EMBEDDING_SERVER_TOKEN

pytestmark = pytest.mark.model
log = logging.getLogger(__name__)
PLANTED = "sk-planted-4f1c9e0b7a2d4e8f9a1b3c5d7e9f0a2b"
MODEL = "all-minilm"
# Questions about httpx, each with the file that answers it.
QUESTIONS = {
    "How are cookies from a response kept and sent with later requests?": "httpx/_models.py",
    "Where is the request timeout split into connect, read, write and pool?": "httpx/_config.py",
    "How does the client follow redirects and change the method to GET?": "httpx/_client.py",
    "Where is basic authentication's Authorization header built?": "httpx/_auth.py",
    "How is a multipart form with file uploads encoded?": "httpx/_multipart.py",
    "Which exception is raised when the server takes too long to respond?": "httpx/_exceptions.py",
    "How are URL query parameters merged and encoded?": "httpx/_urls.py",
    "Where does the command line tool print the response?": "httpx/_main.py",
    "How are proxy URLs read from environment variables?": "httpx/_utils.py",
    "How is a gzip or brotli response body decompressed?": "httpx/_decoders.py",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """httpx's installed source, with a .gitignore and files that must not be indexed."""
    root = tmp_path / "project"
    shutil.copytree(Path(httpx_package.__file__).parent, root / "httpx")
    (root / ".gitignore").write_text("build/\n*.log\n", encoding="utf-8")
    (root / "build").mkdir()
    (root / "build" / "generated_client.py").write_text("def built(): pass\n", encoding="utf-8")
    (root / "debug.log").write_text("a log line\n", encoding="utf-8")
    (root / ".env").write_text(f"OPENAI_API_KEY={PLANTED}\n", encoding="utf-8")
    (root / "httpx" / "deploy.pem").write_text(f"-----BEGIN {PLANTED}-----\n", encoding="utf-8")
    (root / "ELITE_REMOTE_API_KEY").write_text(PLANTED, encoding="utf-8")  # a secret's name
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" * 100)
    (root / "dump.sql").write_text("-- data\n" * 100_000, encoding="utf-8")
    (root / "package-lock.json").write_text("{}\n", encoding="utf-8")
    return root


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Every path the process opens while the test runs (the audit hook stays, idle)."""
    seen: list[str] = []
    listening = [True]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if listening[0] and event == "open" and isinstance(args[0], str | Path):
            seen.append(str(args[0]))

    sys.addaudithook(hook)
    yield seen
    listening[0] = False


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _index(root: Path, index: ProjectIndex, server: str) -> Any:
    client = AssistantClient(server, EMBEDDING_SERVER_TOKEN)
    try:
        indexer = Indexer(root, index, embedder(client, MODEL), MODEL, ["ELITE_REMOTE_API_KEY"])
        return await indexer.run()
    finally:
        await client.aclose()


async def _query_vector(server: str, text: str) -> np.ndarray:
    client = AssistantClient(server, EMBEDDING_SERVER_TOKEN)
    try:
        return np.asarray((await client.embed(MODEL, [text]))[0], dtype=np.float32)
    finally:
        await client.aclose()


def test_a_real_code_base_is_indexed_without_what_it_must_not_read(
    project: Path,
    builtin_server: str,
    tmp_path: Path,
    opened: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    index = ProjectIndex(tmp_path / "index" / "index.sqlite")
    progress = run(_index(project, index, builtin_server))
    files = index.files()
    assert "httpx/_client.py" in files and "httpx/__init__.py" in files
    # every file read (the PNG was found binary by reading it), every chunk stored
    assert progress.files_done == progress.files_total == len(files) + 1 > 20
    assert progress.chunks == index.counts()[1]
    reasons = {s.path: s.reason for s in index.skipped()}
    assert reasons == {
        ".env": "secret",
        "httpx/deploy.pem": "secret",
        "ELITE_REMOTE_API_KEY": "secret",
        "logo.png": "binary",
        "dump.sql": "too large",
        "package-lock.json": "generated",
    }
    assert not any(p.startswith("build/") or p.endswith(".log") for p in files)  # .gitignore
    secrets = [project / ".env", project / "httpx" / "deploy.pem", project / "ELITE_REMOTE_API_KEY"]
    assert not {str(p) for p in secrets} & set(opened)  # never opened
    stored = b"".join(p.read_bytes() for p in index.path.parent.iterdir())
    assert PLANTED.encode() not in stored
    assert PLANTED not in caplog.text

    keyword = search(index, "follow redirects", None, 5, "keyword")
    assert any(hit.chunk.path == "httpx/_client.py" for hit in keyword)
    hit = keyword[0]
    lines = (project / hit.chunk.path).read_text(encoding="utf-8").splitlines()
    assert "\n".join(lines[hit.chunk.start - 1 : hit.chunk.end]) == hit.chunk.text
    assert run(_index(project, index, builtin_server)).files_done == 0  # nothing changed
    index.close()


def recall_at_5(index: ProjectIndex, vectors: dict[str, np.ndarray], mode: Mode) -> float:
    found = 0
    for question, answer in QUESTIONS.items():
        hits = search(index, question, vectors[question], 5, mode)
        found += any(hit.chunk.path == answer for hit in hits)
    return found / len(QUESTIONS)


def test_recall_at_5_of_a_question_set(project: Path, builtin_server: str, tmp_path: Path) -> None:
    index = ProjectIndex(tmp_path / "index.sqlite")
    run(_index(project, index, builtin_server))
    vectors = {q: run(_query_vector(builtin_server, q)) for q in QUESTIONS}
    recall = {mode: recall_at_5(index, vectors, mode) for mode in ("hybrid", "keyword", "vector")}
    log.info("recall@5 over %d questions about httpx: %s", len(QUESTIONS), recall)
    assert recall["hybrid"] >= 0.7, recall
    assert recall["hybrid"] >= max(recall["keyword"], recall["vector"]) - 0.1, recall


def test_the_watcher_follows_edits_and_deletions(
    project: Path, builtin_server: str, tmp_path: Path
) -> None:
    index = ProjectIndex(tmp_path / "index.sqlite")

    async def scenario() -> tuple[float, float]:
        client = AssistantClient(builtin_server, EMBEDDING_SERVER_TOKEN)
        indexer = Indexer(project, index, embedder(client, MODEL), MODEL)
        await indexer.run()
        following = asyncio.create_task(watcher.follow(indexer))
        await asyncio.sleep(0.5)  # (inotify's watches are set up as awatch starts)
        try:
            edited = project / "httpx" / "_api.py"
            began = time.monotonic()
            with edited.open("a", encoding="utf-8") as file:
                file.write("\n\ndef flux_capacitor_handshake():\n    return 'eighty-eight'\n")
            while not index.keyword("flux_capacitor_handshake", 5):
                assert time.monotonic() - began < 10, "the edit was not indexed in 10 s"
                await asyncio.sleep(0.05)
            edit_seconds = time.monotonic() - began
            began = time.monotonic()
            (project / "httpx" / "_status_codes.py").unlink()
            while "httpx/_status_codes.py" in index.files():
                assert time.monotonic() - began < 10, "the deletion was not seen in 10 s"
                await asyncio.sleep(0.05)
            return edit_seconds, time.monotonic() - began
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await client.aclose()

    edit_s, delete_s = run(scenario())
    log.info("an edit indexed in %.2f s, a deletion in %.2f s", edit_s, delete_s)
    hits = index.keyword("flux_capacitor_handshake", 5)
    (chunk,) = index.chunks([hits[0][0]]).values()
    assert chunk.path == "httpx/_api.py" and "eighty-eight" in chunk.text
    index.close()


def test_a_mention_brings_the_code_that_fits_and_it_is_not_stored(
    project: Path, builtin_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from elite_panel.core.paths import AppPaths
    from elite_panel.projects.mentions import project_reference
    from elite_panel.projects.registry import ProjectRegistry

    monkeypatch.setenv("ELITE_HOME", str(tmp_path / "home"))
    registry = ProjectRegistry(AppPaths.from_env().ensure())
    added = registry.add(project, "web")
    index = ProjectIndex(registry.index_path("web"))
    run(_index(project, index, builtin_server))
    index.close()
    prompt = "@web/httpx how are cookies from a response kept for the next request?"

    async def scenario(share: float, ask: bool) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
        client = AssistantClient(builtin_server, EMBEDDING_SERVER_TOKEN)
        try:

            async def draft(reference: str | None) -> dict[str, Any]:
                return await client.count(
                    [{"role": "user", "content": prompt}], reference=reference
                )

            reference = await project_reference(
                prompt, registry, share, embedder(client, MODEL), draft
            )
            assert reference is not None
            if not ask:
                return reference, [], {}
            events = [
                e
                async for e in client.chat(
                    [{"role": "user", "content": prompt}],
                    reference=reference.text or None,
                )
            ]
            stored = await client.conversation(events[0]["conversation_id"])
            return reference, events, {"user": stored.messages[0].content}
        finally:
            await client.aclose()

    reference, _events, _stored = run(scenario(0.4, ask=False))
    window = 8192  # the bundled model's, as the runner runs it
    assert reference.sources and 0 < reference.tokens <= 0.4 * window
    assert all(hit.chunk.path.startswith("httpx/") for hit in reference.sources)
    assert "cookies" in reference.text.lower()  # what the question is about
    assert f"### {reference.sources[0].citation}" in reference.text
    small, events, stored = run(scenario(0.1, ask=True))  # a smaller share: fewer excerpts
    assert events[0]["context"]["window"] == window
    assert 0 < small.tokens <= 0.1 * window and small.tokens < reference.tokens
    assert small.left_out > 0
    assert events[-1]["type"] == "done"
    assert events[0]["context"]["prompt_tokens"] >= small.tokens  # sent with the turn
    assert stored["user"] == prompt  # and not stored
    assert added.root == project.resolve()
