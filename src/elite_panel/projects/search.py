"""Searching a project's index: by keywords (BM25), by meaning (the query's embedding
against every chunk's, a cosine in numpy), or both fused by their ranks.

Hybrid search joins the two lists with reciprocal rank fusion (each chunk scores
``1 / (60 + rank)`` in each list it is in), which needs no tuning between scores of
different kinds; it finds what either finds, and ranks first what both find.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from elite_panel.projects.chunks import Chunk
from elite_panel.projects.store import ProjectIndex

Mode = Literal["hybrid", "keyword", "vector"]
CANDIDATES = 50  # of each list, before fusion
RRF_K = 60


@dataclass(frozen=True)
class Hit:
    """A chunk found, and its score (higher is better; comparable within one search)."""

    chunk: Chunk
    score: float
    project: str = ""  # the project it was found in (where a search spans several)

    @property
    def citation(self) -> str:
        """Where it is, as an answer cites it: ``path:start-end``."""
        return f"{self.chunk.path}:{self.chunk.start}-{self.chunk.end}"


def vector_ranking(
    index: ProjectIndex, query_vector: np.ndarray, limit: int, under: str = ""
) -> list[tuple[int, float]]:
    """The chunks nearest ``query_vector`` (unit length), best first."""
    ids, vectors, paths = index.matrix()
    if not len(ids):
        return []
    scores = vectors @ query_vector.astype(np.float32)
    if under:
        prefix = under.rstrip("/") + "/"
        inside = np.array([p == under or p.startswith(prefix) for p in paths])
        scores = np.where(inside, scores, -np.inf)
    count = min(limit, len(ids))
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best])]
    return [(int(ids[i]), float(scores[i])) for i in best if np.isfinite(scores[i])]


def search(
    index: ProjectIndex,
    query: str,
    query_vector: np.ndarray | None,
    limit: int = 5,
    mode: Mode = "hybrid",
    under: str = "",
) -> list[Hit]:
    """The ``limit`` best chunks for ``query`` (``query_vector``: its embedding, needed
    unless ``mode`` is ``keyword``); ``under``: only in that file or folder."""
    lists = []
    if mode in ("hybrid", "keyword"):
        lists.append(index.keyword(query, CANDIDATES if mode == "hybrid" else limit, under))
    if mode in ("hybrid", "vector"):
        if query_vector is None:
            raise ValueError("a search by meaning needs the query's embedding")
        lists.append(
            vector_ranking(index, query_vector, CANDIDATES if mode == "hybrid" else limit, under)
        )
    if mode == "hybrid":
        fused: dict[int, float] = {}
        for ranking in lists:
            for rank, (chunk_id, _score) in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        ranked = sorted(fused.items(), key=lambda item: -item[1])[:limit]
    else:
        ranked = lists[0][:limit]
    chunks = index.chunks([chunk_id for chunk_id, _ in ranked])
    return [Hit(chunks[chunk_id], score) for chunk_id, score in ranked if chunk_id in chunks]
