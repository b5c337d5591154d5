"""``elite-panel projects ...``: index a project's code on this machine, and search it."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elite_panel.cli.console import err, out, out_json
from elite_panel.monitor.report import human_bytes

if TYPE_CHECKING:
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.core.paths import AppPaths
    from elite_panel.core.profiles import Profile
    from elite_panel.projects.indexer import Embed, Progress

Connect = Callable[[], Awaitable["AssistantClient"]]


def add_parsers(commands: Any) -> None:
    projects = commands.add_parser(
        "projects",
        help="index your code on this machine, and search it (for the chat's @-mentions)",
    )
    action = projects.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = action.add_parser("add", help="add a folder and index it")
    add.add_argument("path", type=Path)
    add.add_argument("--name", help="the project's name (default: the folder's)")
    listing = action.add_parser("list", help="the projects, their files, chunks and size")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    remove = action.add_parser("remove", help="forget a project and delete its index")
    remove.add_argument("name")
    again = action.add_parser("reindex", help="index what changed since the last run")
    again.add_argument("name")
    again.add_argument("--skipped", action="store_true", help="list the files left out, and why")
    search = action.add_parser("search", help="the chunks that best match a question")
    search.add_argument("name")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=5, help="how many (5)")
    search.add_argument(
        "--mode",
        choices=("hybrid", "keyword", "vector"),
        default="hybrid",
        help="words and meaning together (default), words only (no assistant needed), meaning only",
    )
    search.add_argument("--json", action="store_true", help="machine-readable output")


async def run_projects(
    args: argparse.Namespace, paths: AppPaths, profile: Profile, connect: Connect
) -> int:
    from elite_panel.projects.registry import ProjectRegistry
    from elite_panel.projects.store import ProjectIndex

    registry = ProjectRegistry(paths)
    if args.action == "list":
        rows: list[dict[str, Any]] = []
        for project in registry.projects():
            index = ProjectIndex(registry.index_path(project.name))
            files, chunks = index.counts()
            rows.append(
                {"name": project.name, "root": str(project.root), "files": files,
                 "chunks": chunks, "bytes": index.size_bytes(), "skipped": len(index.skipped())}
            )  # fmt: skip
            index.close()
        if args.json:
            out_json({"projects": rows})
        for row in [] if args.json else rows:
            out(
                f"{row['name']:<20} {row['files']:>6} files {row['chunks']:>7} chunks "
                f"{human_bytes(row['bytes']):>9}  {row['root']}\n"
            )
        return 0
    if args.action == "remove":
        project = registry.remove(args.name)
        out(f"removed {project.name} (its files in {project.root} are untouched)\n")
        return 0
    if args.action == "add":
        project = registry.add(args.path, args.name)
        out(f"added {project.name}: {project.root}\n")
        name = project.name
    else:
        name = args.name
        project = registry.get(name)
    index = ProjectIndex(registry.index_path(name))
    try:
        if args.action == "search" and args.mode == "keyword":
            return _print_hits(args, index, None)
        client = await connect()
        try:
            embed = embedder(client, profile.projects.embedding_model)
            if args.action == "search":
                return _print_hits(args, index, (await embed([args.query]))[0])
            progress = await index_project(paths, project.root, index, embed, profile)
            out(
                f"{name}: {progress.files_done} files read, {progress.chunks} chunks embedded, "
                f"{progress.removed} removed, {len(progress.skipped)} skipped in "
                f"{progress.seconds:.1f} s\n"
            )
            for skipped in progress.skipped if getattr(args, "skipped", False) else []:
                out(f"  skipped {skipped.path}: {skipped.reason}\n")
            return 0
        finally:
            await client.aclose()
    finally:
        index.close()


def embedder(client: AssistantClient, model: str) -> Embed:
    """Embeddings of texts by ``model`` through the assistant ``client`` speaks to."""

    async def embed(texts: list[str]) -> list[list[float]]:
        return await client.embed(model, texts)

    return embed


async def index_project(
    paths: AppPaths, root: Path, index: Any, embed: Embed, profile: Profile
) -> Progress:
    """Bring ``index`` up to date, with a progress line on stderr."""
    from elite_panel.core.secret_store import SecretStore
    from elite_panel.projects.indexer import Indexer

    names = await asyncio.to_thread(SecretStore(paths).names)

    def show(progress: Progress) -> None:
        if progress.current:
            err(f"\r{progress.files_done}/{progress.files_total} files, {progress.chunks} chunks")

    indexer = Indexer(root, index, embed, profile.projects.embedding_model, names, show)
    progress = await indexer.run()
    err("\n")
    return progress


def _print_hits(args: argparse.Namespace, index: Any, vector: list[float] | None) -> int:
    import numpy as np

    from elite_panel.projects.search import search

    query_vector = None if vector is None else np.asarray(vector, dtype=np.float32)
    hits = search(index, args.query, query_vector, args.limit, args.mode)
    if args.json:
        out(json.dumps({"hits": [
            {"citation": h.citation, "symbol": h.chunk.symbol, "score": h.score,
             "text": h.chunk.text} for h in hits
        ]}, indent=2) + "\n")  # fmt: skip
        return 0
    for hit in hits:
        first = next((line.strip() for line in hit.chunk.text.splitlines() if line.strip()), "")
        out(f"{hit.citation:<48} {hit.chunk.symbol:<28} {first[:60]}\n")
    return 0 if hits else 1
