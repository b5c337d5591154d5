"""Async HTTP client of the assistant server, shared by the CLI and the panel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from elite_panel.core.errors import EliteError


class AssistantError(EliteError):
    """The assistant server refused or failed a request."""


class AssistantClient:
    """One ``httpx.AsyncClient`` for the assistant server, for the owner's lifetime."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 300.0) -> None:
        self.base_url = base_url
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            trust_env=False,
        )

    async def chat(
        self,
        messages: Sequence[dict[str, str]],
        model: str | None = None,
        conversation_id: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """The NDJSON events of one answer: ``start``, ``token``..., ``done`` or ``error``."""
        body: dict[str, Any] = {"messages": list(messages)}
        if model:
            body["model"] = model
        if conversation_id:
            body["conversation_id"] = conversation_id
        try:
            async with self._http.stream("POST", "/api/chat", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise AssistantError(_describe(response))
                async for line in response.aiter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.HTTPError as exc:
            raise AssistantError(f"the assistant server at {self.base_url} failed: {exc}") from exc

    async def models(self) -> list[dict[str, Any]]:
        try:
            response = await self._http.get("/api/models")
        except httpx.HTTPError as exc:
            raise AssistantError(f"the assistant server at {self.base_url} failed: {exc}") from exc
        if response.status_code != 200:
            raise AssistantError(_describe(response))
        models: list[dict[str, Any]] = response.json()["models"]
        return models

    async def aclose(self) -> None:
        await self._http.aclose()


def _describe(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return f"the assistant server answered {response.status_code}: {detail}"
