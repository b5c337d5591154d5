"""The models the runner holds in memory, and how much of each sits in VRAM.

Ollama answers ``GET /api/ps`` with ``size`` and ``size_vram`` per loaded model: a model
whose ``size_vram`` is below its ``size`` spilled to the CPU and runs many times slower,
the first thing to check when answers crawl.  OpenAI-compatible runners (the built-in
llama.cpp one) only list their model names (``GET /v1/models``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class LoadedModel:
    """A model in the runner's memory, as the dashboard samples it."""

    name: str
    size_bytes: int | None = None
    vram_bytes: int | None = None
    context_length: int | None = None
    expires_at: str | None = None

    @property
    def gpu_fraction(self) -> float | None:
        """Share of the model's bytes in VRAM, 0 to 1, as the server's ``gpu_share``;
        ``None`` when the runner does not say (OpenAI-compatible runners)."""
        if self.size_bytes is None or self.vram_bytes is None or self.size_bytes <= 0:
            return None
        return min(self.vram_bytes / self.size_bytes, 1.0)


async def loaded_models(http: httpx.AsyncClient, runner_kind: str, url: str) -> list[LoadedModel]:
    """Ask the runner; raises ``httpx.HTTPError`` when it does not answer."""
    if runner_kind == "ollama":
        response = await http.get(f"{url}/api/ps", timeout=2.0)
        response.raise_for_status()
        return [_from_ollama(m) for m in response.json().get("models") or []]
    response = await http.get(f"{url}/v1/models", timeout=2.0)
    response.raise_for_status()
    return [LoadedModel(name=str(m.get("id"))) for m in response.json().get("data") or []]


def _from_ollama(model: dict[str, Any]) -> LoadedModel:
    return LoadedModel(
        name=str(model.get("name") or model.get("model")),
        size_bytes=model.get("size"),
        vram_bytes=model.get("size_vram"),
        context_length=model.get("context_length"),
        expires_at=model.get("expires_at"),
    )
