"""The project index: indexing a code base, re-indexing an edit, search speed at 50k
chunks, retrieval quality, and the bundled embedding model's own size and speed.

Run: ``python -m tests.benchmarks.bench_projects`` (the built-in runner with the bundled
models; ``BENCH_FILES`` source files, 1,500 by default, copied from the installed source
of a few libraries and this repository). Each figure has its baseline from the same run:

- indexing ~1,500 files through the assistant server and the built-in runner (aim <= 5
  min on 2 CPUs): files/s, chunks, index size; against reading and chunking alone (what
  is not the embedding model's time);
- one edited file indexed again (aim <= 2 s), the watcher's path (only that file) and a
  whole run finding it (a walk of every file);
- search at 50,000 chunks, p50/p95 (aim <= 50 ms): hybrid, keywords (SQLite FTS5, BM25)
  and vectors (numpy) each; the baseline is the cosine alone over the matrix in memory;
- recall@5 over a question set about five libraries (questions → the file that answers):
  hybrid, keywords only, vectors only;
- the embedding model: its GGUF size, and texts embedded per second (a chunk's head,
  as indexed) in the runner.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from elite_panel.client.assistant import AssistantClient
from elite_panel.core.builtin_runner import bundled_model_path
from elite_panel.projects.chunks import Chunk, chunk
from elite_panel.projects.files import ProjectFiles
from elite_panel.projects.indexer import Indexer, embedding_text
from elite_panel.projects.search import Mode, search, vector_ranking
from elite_panel.projects.store import FileState, ProjectIndex
from elite_panel.stack import embedding_model
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.benchmarks import save_results
from tests.builtin_runner import running_builtin_runner
from tests.fakes.ollama_double import serve_in_thread

REPO = Path(__file__).resolve().parents[2]
FILES = int(os.environ.get("BENCH_FILES", "1500"))
RUNS = int(os.environ.get("BENCH_RUNS", "50"))
TOKEN = "bench-projects"
MODEL = embedding_model.NAME
LIBRARIES = ("httpx", "starlette", "click", "jinja2", "rich", "pydantic", "sqlalchemy",
             "alembic", "docker", "markdown_it", "fastapi", "pygments")  # fmt: skip
QUESTIONS = {
    "How are cookies from a response kept and sent with later requests?": "httpx/_models.py",
    "Where is the request timeout split into connect, read, write and pool?": "httpx/_config.py",
    "How does the client follow redirects and change the method to GET?": "httpx/_client.py",
    "Where is basic authentication's Authorization header built?": "httpx/_auth.py",
    "How is a multipart form with file uploads encoded?": "httpx/_multipart.py",
    "How is a gzip or brotli response body decompressed?": "httpx/_decoders.py",
    "How does CORS middleware answer a preflight OPTIONS request?": "starlette/middleware/cors.py",
    "Where are static files served with ETag and If-None-Match?": "starlette/staticfiles.py",
    "How is a path like /users/{user_id:int} turned into a regular expression?": (
        "starlette/routing.py"
    ),
    "How are background tasks run after the response is sent?": "starlette/background.py",
    "How does the test client call an ASGI app without a network?": "starlette/testclient.py",
    "Where are signed session cookies read and written?": "starlette/middleware/sessions.py",
    "How does click prompt for a password without echoing it?": "click/termui.py",
    "Where is help text wrapped to the terminal's width?": "click/formatting.py",
    "How are shell completion scripts generated for bash and zsh?": "click/shell_completion.py",
    "How does the sandbox block access to unsafe attributes of objects?": "jinja2/sandbox.py",
    "Where are templates loaded from a folder on disk?": "jinja2/loaders.py",
    "Where are filters such as truncate and wordwrap defined?": "jinja2/filters.py",
    "How is a template compiled into Python source code?": "jinja2/compiler.py",
    "How is the time remaining of a progress bar estimated?": "rich/progress.py",
    "How are a table's column widths computed?": "rich/table.py",
    "How is Markdown with headings and code blocks rendered in the terminal?": "rich/markdown.py",
    "How is a Python traceback rendered with its local variables?": "rich/traceback.py",
    "Which box styles exist for the borders of panels and tables?": "rich/box.py",
}


def site_packages() -> Path:
    import httpx

    return Path(httpx.__file__).resolve().parents[1]


def corpus(root: Path) -> int:
    """The libraries' sources (each under its name) and this repository's code, up to
    :data:`FILES` source files."""
    count = 0
    for name in LIBRARIES:
        source = site_packages() / name
        if not source.is_dir():
            continue
        shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        count = sum(1 for _ in root.rglob("*.py"))
        if count >= FILES:
            break
    for folder in ("src", "embedded_server", "tests"):
        if count < FILES:
            shutil.copytree(REPO / folder, root / "elite" / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
            count = sum(1 for _ in root.rglob("*.py"))
    extra = sorted(root.rglob("*.py"))[FILES:]
    for path in extra:  # keep exactly FILES source files (the question files stay)
        if not any(str(path).endswith(answer) for answer in QUESTIONS.values()):
            path.unlink()
    return sum(1 for _ in root.rglob("*.py"))


def percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[max(0, round(0.95 * len(times)) - 1)] * 1000,
    }


def started_stack(folder: Path) -> Iterator[str]:
    """The built-in runner with both bundled models, and an assistant server before it."""
    embedding = embedding_model.prepare(folder / "embedding")
    if embedding is None or bundled_model_path() is None:
        raise SystemExit("needs the built-in runner's models (bash packaging/bootstrap.sh test)")
    with running_builtin_runner(folder / "models", embedding) as url:
        settings = Settings(
            api_token=TOKEN,
            backend="openai",
            backend_url=url,
            data_dir=folder / "server",
            rate_limit="off",
            models_dir=folder / "models",
            bundled_model=bundled_model_path(),
            bundled_embedding_model=embedding,
            runner_check_interval_s=60,
        )
        yield from serve_in_thread(create_app(settings))


async def index_and_edit(root: Path, index_path: Path, server: str) -> dict[str, Any]:
    client = AssistantClient(server, TOKEN, timeout_s=600)

    async def embed(texts: list[str]) -> list[list[float]]:
        return await client.embed(MODEL, texts)

    try:
        index = ProjectIndex(index_path)
        indexer = Indexer(root, index, embed, MODEL)
        began = time.perf_counter()
        progress = await indexer.run()
        seconds = time.perf_counter() - began
        files, chunks = index.counts()
        edited = root / "httpx" / "_api.py"
        edit_times, walk_times = [], []
        for turn in range(3):
            with edited.open("a", encoding="utf-8") as file:
                file.write(f"\n\ndef added_in_turn_{turn}():\n    return {turn}\n")
            began = time.perf_counter()
            await indexer.run(only=[edited])
            edit_times.append(time.perf_counter() - began)
            with edited.open("a", encoding="utf-8") as file:
                file.write(f"\n# and a comment in turn {turn}\n")
            began = time.perf_counter()
            await indexer.run()
            walk_times.append(time.perf_counter() - began)
        texts = [embedding_text(c) for c in index.chunks(list(range(1, 65))).values()]
        began = time.perf_counter()
        for start in range(0, len(texts), 32):
            await embed(texts[start : start + 32])
        per_second = len(texts) / (time.perf_counter() - began)
        index.close()
        return {
            "files": files,
            "chunks": chunks,
            "skipped": len(progress.skipped),
            "seconds": seconds,
            "files_per_s": files / seconds,
            "index_bytes": index_path.stat().st_size,
            "edit_s": statistics.median(edit_times),
            "edit_walk_s": statistics.median(walk_times),
            "texts_per_s": per_second,
        }
    finally:
        await client.aclose()


def chunking_only(root: Path) -> dict[str, Any]:
    """The baseline of indexing: reading and chunking every file, no embedding."""
    files = ProjectFiles(root)
    began = time.perf_counter()
    pieces = 0
    for path, why in files.walk():
        if why is None:
            text, skipped = files.read(path)
            if text is not None and skipped is None:
                pieces += len(chunk(files.relative(path), text))
    return {"seconds": time.perf_counter() - began, "chunks": pieces}


def grown(index_path: Path, target: Path, chunks: int) -> ProjectIndex:
    """A copy of the index grown to ``chunks`` chunks: its own, repeated under other
    paths, their vectors moved a little (so that none ties)."""
    shutil.copy(index_path, target)
    index = ProjectIndex(target)
    _ids, vectors, _paths = index.matrix()
    originals = index.chunks([int(i) for i in _ids])
    rng = np.random.default_rng(7)
    copy = 0
    while index.counts()[1] < chunks:
        copy += 1
        by_file: dict[str, list[tuple[Chunk, np.ndarray]]] = {}
        for (_id, piece), vector in zip(originals.items(), vectors, strict=True):
            moved = vector + rng.normal(0, 0.02, vector.shape).astype(np.float32)
            by_file.setdefault(piece.path, []).append((piece, moved / np.linalg.norm(moved)))
        for path, items in by_file.items():
            if index.counts()[1] >= chunks:
                break
            new_path = f"copy{copy}/{path}"
            pieces = [Chunk(new_path, c.start, c.end, c.symbol, c.text) for c, _v in items]
            index.replace_file(
                new_path, FileState(0, 0, ""), pieces, np.vstack([v for _c, v in items])
            )
    return index


async def query_vectors(server: str) -> dict[str, np.ndarray]:
    client = AssistantClient(server, TOKEN)
    try:
        questions = list(QUESTIONS)
        vectors = await client.embed(MODEL, questions)
        return {q: np.asarray(v, dtype=np.float32) for q, v in zip(questions, vectors, strict=True)}
    finally:
        await client.aclose()


def search_speed(index: ProjectIndex, vectors: dict[str, np.ndarray]) -> dict[str, Any]:
    questions = list(vectors)
    index.matrix()  # read once (it is kept until the index changes)
    times: dict[str, list[float]] = {m: [] for m in ("hybrid", "keyword", "vector", "cosine")}
    for turn in range(RUNS):
        question = questions[turn % len(questions)]
        for mode in ("hybrid", "keyword", "vector"):
            began = time.perf_counter()
            search(index, question, vectors[question], 5, mode)  # type: ignore[arg-type]
            times[mode].append(time.perf_counter() - began)
        began = time.perf_counter()
        vector_ranking(index, vectors[question], 5)
        times["cosine"].append(time.perf_counter() - began)
    return {"chunks": index.counts()[1], **{m: percentiles(t) for m, t in times.items()}}


def recall(index: ProjectIndex, vectors: dict[str, np.ndarray]) -> dict[str, Any]:
    found: dict[str, int] = {}
    misses: dict[str, list[str]] = {}
    modes: tuple[Mode, ...] = ("hybrid", "keyword", "vector")
    for mode in modes:
        found[mode] = 0
        for question, answer in QUESTIONS.items():
            hits = search(index, question, vectors[question], 5, mode)
            if any(hit.chunk.path == answer for hit in hits):
                found[mode] += 1
            else:
                misses.setdefault(mode, []).append(answer)
    return {
        "questions": len(QUESTIONS),
        **{mode: found[mode] / len(QUESTIONS) for mode in modes},
        "misses": misses,
    }


def main() -> int:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="elite-bench-projects-") as work:
        folder = Path(work)
        root = folder / "code"
        results["source_files"] = corpus(root)
        results["chunking_only"] = chunking_only(root)
        stack = started_stack(folder)
        server = next(stack)
        try:
            results["index"] = asyncio.run(index_and_edit(root, folder / "index.sqlite", server))
            vectors = asyncio.run(query_vectors(server))
        finally:
            stack.close()
        real = ProjectIndex(folder / "index.sqlite")
        results["recall"] = recall(real, vectors)
        real.close()
        big = grown(folder / "index.sqlite", folder / "big.sqlite", 50_000)
        results["search"] = search_speed(big, vectors)
        big.close()
        model = embedding_model.prepare(folder / "embedding")
        results["model_bytes"] = model.stat().st_size if model else 0
    report(results)
    save_results("projects", results)
    return 0


def report(r: dict[str, Any]) -> None:
    i, c, s, q = r["index"], r["chunking_only"], r["search"], r["recall"]

    def cell(f: dict[str, float]) -> str:
        return f"{f['p50_ms']:7.2f} / {f['p95_ms']:7.2f}"

    lines = [
        f"indexing {i['files']:,} files ({r['source_files']:,} source files; "
        f"{i['skipped']} left out): {i['seconds']:.0f} s (aim <= 300), {i['files_per_s']:.1f} "
        f"files/s, {i['chunks']:,} chunks, index {i['index_bytes'] / 1e6:.1f} MB",
        f"  baseline: reading and chunking alone {c['seconds']:.1f} s ({c['chunks']:,} chunks)",
        f"one edited file indexed again: {i['edit_s']:.2f} s (aim <= 2); by a whole run "
        f"(walking every file) {i['edit_walk_s']:.2f} s",
        f"search at {s['chunks']:,} chunks, p50 / p95 ms (aim p95 <= 50):",
        f"  hybrid {cell(s['hybrid'])}   keyword {cell(s['keyword'])}   "
        f"vector {cell(s['vector'])}   baseline cosine alone {cell(s['cosine'])}",
        f"recall@5 over {q['questions']} questions: hybrid {q['hybrid']:.2f}, keywords only "
        f"{q['keyword']:.2f}, vectors only {q['vector']:.2f}",
        f"the embedding model: {r['model_bytes'] / 1e6:.0f} MB (GGUF, float16), "
        f"{i['texts_per_s']:.1f} chunk heads embedded a second",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
