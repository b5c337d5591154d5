"""@-mentions in a prompt, and the code they bring into the chat.

``@NAME`` is a whole project, ``@NAME/some/folder`` a folder of it and
``@NAME/some/file.py`` a file (NAME: a project's name; a word after ``@`` that names no
project is left as it is: ``@property`` in pasted code stays code). The question without
its mentions is searched in each place mentioned; the chunks found are given to the
model after the system prompt as a *reference*, as many as fit the share of the model's
window the profile allows, counted in the runner's own tokens by the assistant server;
the answer is asked to cite them as ``path:line``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from elite_panel.projects.indexer import Embed
from elite_panel.projects.search import Hit, search
from elite_panel.projects.store import ProjectIndex

if TYPE_CHECKING:
    from elite_panel.projects.registry import ProjectRegistry

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9_.-]*)(/[^\s,;:!?)\]]*)?")
HEAD = (
    "Excerpts of the user's code, found for this question. Answer from them where they "
    "apply, and cite each one you use as path:line (for example src/app.py:42)."
)
PER_MENTION = 8  # chunks searched in each place mentioned
# For a fence's language: most code fences take the extension's name.
FENCE_NAMES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".rs": "rust",
               ".sh": "bash", ".md": "markdown", ".yml": "yaml"}  # fmt: skip


@dataclass(frozen=True)
class Mention:
    """A place mentioned: a project, and a file or folder in it ("" = all of it)."""

    project: str
    path: str = ""

    @property
    def text(self) -> str:
        return f"@{self.project}/{self.path}" if self.path else f"@{self.project}"


def find_mentions(prompt: str, projects: Sequence[str]) -> tuple[str, list[Mention]]:
    """The prompt's mentions of ``projects``, and the question without them."""
    mentions: list[Mention] = []

    def take(match: re.Match[str]) -> str:
        if match.group(1) not in projects:
            return match.group(0)
        mention = Mention(match.group(1), (match.group(2) or "").strip("/"))
        if mention not in mentions:
            mentions.append(mention)
        return ""

    question = MENTION.sub(take, prompt)
    return " ".join(question.split()), mentions


def completions(
    typed: str, projects: Sequence[str], paths: Callable[[str], Sequence[str]]
) -> list[str]:
    """What ``@typed`` may complete to: project names, then (after ``NAME/``) the files
    and folders of that project starting with what follows (``paths(NAME)``: its files)."""
    if "/" not in typed:
        return [f"@{name}" for name in projects if name.startswith(typed)]
    name, _, start = typed.partition("/")
    if name not in projects:
        return []
    found: set[str] = set()
    for path in paths(name):
        if not path.startswith(start):
            continue
        rest = path[len(start) :]
        cut = rest.find("/")
        found.add(start + (rest[: cut + 1] if cut >= 0 else rest))
    return [f"@{name}/{entry}" for entry in sorted(found)][:50]


def interleaved(results: Sequence[Sequence[Hit]]) -> list[Hit]:
    """The hits of several searches, taking each one's best in turn, each chunk once."""
    merged: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    for rank in range(max((len(r) for r in results), default=0)):
        for hits in results:
            if rank < len(hits):
                key = (hits[rank].chunk.path, hits[rank].chunk.start)
                if key not in seen:
                    seen.add(key)
                    merged.append(hits[rank])
    return merged


def reference_text(hits: Sequence[Hit]) -> str:
    """The excerpts as the model reads them: each under its citation."""
    parts = [HEAD]
    for hit in hits:
        piece = hit.chunk
        fence = FENCE_NAMES.get(
            PurePosixPath(piece.path).suffix, PurePosixPath(piece.path).suffix[1:]
        )
        title = f"{piece.path}:{piece.start}-{piece.end}" + (
            f" ({piece.symbol})" if piece.symbol else ""
        )
        parts.append(f"### {title}\n```{fence}\n{piece.text}\n```")
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Reference:
    """What of the hits fits the budget: the text, the hits it holds, those left out."""

    text: str
    sources: tuple[Hit, ...]
    left_out: int
    tokens: int  # what the reference adds to the prompt, counted by the server


async def fit_reference(
    hits: Sequence[Hit],
    share: float,
    measure: Callable[[str | None], Awaitable[tuple[int, int, bool]]],
) -> Reference:
    """The most hits, best first, whose reference takes at most ``share`` of the model's
    window and still lets the prompt fit. ``measure(reference)``: the prompt's tokens, the
    window and whether it fits (the server's count of the draft with that reference).

    Three counts, as a rule: the draft alone, with every hit, then with the hits that the
    second count says fit (each hit's part of it in proportion to its length); each count
    that still finds it over drops the last hit and counts again. When not even the best
    hit fits whole, its first lines do (a long function in a small window)."""
    base, window, _fits = await measure(None)
    budget = int(window * share)
    count = len(hits)
    if not count:
        return Reference("", (), 0, 0)
    tokens, _window, fits = await measure(reference_text(hits))
    if not (fits and tokens - base <= budget):
        lengths = [len(reference_text(hits[:n])) for n in range(1, count + 1)]
        per_char = (tokens - base) / lengths[-1]
        count = sum(1 for length in lengths if length * per_char <= budget)
        while count:
            tokens, _window, fits = await measure(reference_text(hits[:count]))
            if fits and tokens - base <= budget:
                break
            count -= 1
        if not count:
            return await _first_lines(hits, budget, base, per_char, measure)
    text = reference_text(hits[:count]) if count else ""
    return Reference(text, tuple(hits[:count]), len(hits) - count, tokens - base if count else 0)


async def _first_lines(
    hits: Sequence[Hit],
    budget: int,
    base: int,
    per_char: float,
    measure: Callable[[str | None], Awaitable[tuple[int, int, bool]]],
) -> Reference:
    """The best hit's first lines, as many as fit ``budget`` (none: an empty reference)."""
    best = hits[0]
    lines = best.chunk.text.splitlines()
    keep = min(len(lines), int(budget / max(per_char * len(best.chunk.text) / len(lines), 1)))
    while keep >= 1:
        text = "\n".join(lines[:keep])
        piece = dataclasses.replace(best.chunk, end=best.chunk.start + keep - 1, text=text)
        cut = dataclasses.replace(best, chunk=piece)
        tokens, _window, fits = await measure(reference_text([cut]))
        if fits and tokens - base <= budget:
            return Reference(reference_text([cut]), (cut,), len(hits) - 1, tokens - base)
        keep = keep * 3 // 4
    return Reference("", (), len(hits), 0)


async def gather(
    question: str,
    mentions: Sequence[Mention],
    open_index: Callable[[str], ProjectIndex],
    embed: Embed,
) -> list[Hit]:
    """The chunks each mention's place holds for ``question`` (the best of each first)."""
    if not mentions:
        return []
    vector = np.asarray((await embed([question or mentions[0].text]))[0], dtype=np.float32)
    results = []
    for mention in mentions:
        index = open_index(mention.project)
        hits = await asyncio.to_thread(
            search, index, question, vector, PER_MENTION, "hybrid", mention.path
        )
        results.append([dataclasses.replace(hit, project=mention.project) for hit in hits])
    return interleaved(results)


async def project_reference(
    prompt: str,
    registry: ProjectRegistry,
    share: float,
    embed: Embed,
    draft: Callable[[str | None], Awaitable[dict[str, Any]]],
    always: Sequence[str] = (),
) -> Reference | None:
    """The reference for ``prompt``'s mentions (and the projects in ``always``): searched
    (``embed``: the profile's embedding model), then fitted with the server's count of
    the ``draft`` (its answer for a reference) into ``share`` of the window. None when
    nothing is mentioned."""
    names = [p.name for p in registry.projects()]
    question, mentions = find_mentions(prompt, names)
    mentions = [*(Mention(name) for name in always if Mention(name) not in mentions), *mentions]
    if not mentions:
        return None
    indexes: dict[str, ProjectIndex] = {}

    def open_index(name: str) -> ProjectIndex:
        if name not in indexes:
            indexes[name] = ProjectIndex(registry.index_path(registry.get(name).name))
        return indexes[name]

    async def measure(reference: str | None) -> tuple[int, int, bool]:
        counted = await draft(reference)
        context = counted.get("context") or {}
        return (
            int(context.get("prompt_tokens", 0)),
            int(context.get("window", 0)),
            bool(counted.get("fits")),
        )

    try:
        hits = await gather(question, mentions, open_index, embed)
        return await fit_reference(hits, share, measure)
    finally:
        for index in indexes.values():
            index.close()
