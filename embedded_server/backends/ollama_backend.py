"""The Ollama API through the official ``ollama`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import ollama

from embedded_server.backends.base import BackendError, ChatChunk, ModelInfo

# Ollama's option names for the portable ones of our API.
_OPTION_NAMES = {"max_tokens": "num_predict"}


class OllamaBackend:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client = ollama.AsyncClient(host=url)

    async def list_models(self) -> list[ModelInfo]:
        try:
            listing = await self._client.list()
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
            raise BackendError(f"Ollama at {self.url} did not list its models: {exc}") from exc
        models = []
        for model in listing.models:
            details = model.details
            models.append(
                ModelInfo(
                    name=model.model or "",
                    size=model.size,
                    family=details.family if details else None,
                    parameter_size=details.parameter_size if details else None,
                    quantization=details.quantization_level if details else None,
                )
            )
        return models

    async def chat_stream(
        self, model: str, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        opts = {_OPTION_NAMES.get(k, k): v for k, v in options.items()}
        try:
            stream = await self._client.chat(
                model=model, messages=list(messages), stream=True, options=opts or None
            )
            async for part in stream:
                if part.done:
                    yield ChatChunk(
                        content=part.message.content or "",
                        done=True,
                        prompt_tokens=part.prompt_eval_count,
                        completion_tokens=part.eval_count,
                    )
                    return
                yield ChatChunk(content=part.message.content or "")
        except ollama.ResponseError as exc:
            raise BackendError(f"Ollama: {exc.error}") from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise BackendError(f"Ollama at {self.url} failed: {exc}") from exc
        # Ollama closes streams without a final chunk when it is stopped mid-answer.
        raise BackendError("the model runner ended the answer without finishing it")

    async def aclose(self) -> None:
        await self._client._client.aclose()
