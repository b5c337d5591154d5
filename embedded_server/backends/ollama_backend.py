"""The Ollama API through the official ``ollama`` client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, cast

import httpx
import ollama

from embedded_server.backends.base import (
    BackendError,
    ChatChunk,
    LoadedModel,
    ModelInfo,
    ModelNotFound,
    Unsupported,
)

# Ollama's option names for the portable ones of our API.
_OPTION_NAMES = {"max_tokens": "num_predict"}


class OllamaBackend:
    """An Ollama runner through the official ``ollama`` client."""

    def __init__(self, url: str, api_key: str = "") -> None:
        self.url = url
        # A key for an Ollama behind an authenticating proxy (ASSISTANT_RUNNERS' api_key).
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = ollama.AsyncClient(host=url, headers=headers)

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
                    modified_at=model.modified_at.isoformat() if model.modified_at else None,
                    digest=model.digest,
                )
            )
        return models

    # -- model management -----------------------------------------------------------------

    @contextlib.contextmanager
    def _failures(self, name: str | None = None) -> Iterator[None]:
        """Ollama's errors as ours: about model ``name`` (unknown → ModelNotFound), or the
        runner's; an unreachable runner is a BackendError naming it."""
        try:
            yield
        except ollama.ResponseError as exc:
            if name is None:
                raise BackendError(f"Ollama at {self.url}: {exc}") from exc
            raise _error(exc, name) from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise BackendError(f"Ollama at {self.url}: {exc}") from exc

    async def loaded(self) -> list[LoadedModel]:
        with self._failures():
            listing = await self._client.ps()
        return [
            LoadedModel(
                name=m.model or "",
                size=m.size or 0,
                size_vram=m.size_vram or 0,
                context_length=getattr(m, "context_length", None),
                expires_at=m.expires_at.isoformat() if m.expires_at else None,
            )
            for m in listing.models
        ]

    async def show(self, name: str) -> dict[str, Any]:
        with self._failures(name):
            shown = await self._client.show(name)
        details = shown.details
        return {
            "name": name,
            "template": shown.template,
            "parameters": shown.parameters,
            "license": shown.license,
            "modelfile": shown.modelfile,
            "family": details.family if details else None,
            "parameter_size": details.parameter_size if details else None,
            "quantization": details.quantization_level if details else None,
        }

    async def pull(self, name: str) -> AsyncGenerator[dict[str, Any], None]:
        """Ollama's progress events; a failure mid-stream (an error event) raises."""
        with self._failures(name):
            # aclosing: a client that leaves closes Ollama's stream now, not at collection.
            parts = await self._client.pull(name, stream=True)
            async with contextlib.aclosing(cast(AsyncGenerator[Any, None], parts)) as stream:
                async for part in stream:
                    yield {k: v for k, v in part.model_dump().items() if v is not None}

    async def delete(self, name: str) -> None:
        with self._failures(name):
            await self._client.delete(name)

    async def unload(self, name: str) -> None:
        """``keep_alive: 0``: Ollama drops the model from memory at once."""
        with self._failures(name):
            await self._client.generate(model=name, keep_alive=0)

    async def import_file(
        self, path: str, name: str | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        raise Unsupported(
            "importing a GGUF file is for the built-in runner; with Ollama, write a Modelfile "
            "(FROM ./file.gguf) and run `ollama create`"
        )
        yield {}  # pragma: no cover (makes this an async generator)

    async def chat_stream(
        self, model: str, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        opts = {_OPTION_NAMES.get(k, k): v for k, v in options.items()}
        with self._stream_failures():
            stream = await self._client.chat(
                model=model, messages=list(messages), stream=True, options=opts or None
            )
            async for part in stream:
                yield _chunk(part.message.content, part)
                if part.done:
                    return
        # Ollama closes streams without a final chunk when it is stopped mid-answer.
        raise BackendError("the model runner ended the answer without finishing it")

    async def complete_stream(
        self, model: str, prompt: str, suffix: str | None, options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        """``/api/generate`` with ``suffix``: Ollama applies the model's fill-in-the-middle
        template (a model without one refuses, and the error says so)."""
        opts = {_OPTION_NAMES.get(k, k): v for k, v in options.items()}
        with self._stream_failures():
            stream = await self._client.generate(
                model=model, prompt=prompt, suffix=suffix or "", stream=True, options=opts or None
            )
            async for part in stream:
                yield _chunk(part.response, part)
                if part.done:
                    return
        raise BackendError("the model runner ended the answer without finishing it")

    @contextlib.contextmanager
    def _stream_failures(self) -> Iterator[None]:
        try:
            yield
        except ollama.ResponseError as exc:
            failure = ModelNotFound if exc.status_code == 404 else BackendError
            raise failure(f"Ollama: {exc.error}") from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise BackendError(f"Ollama at {self.url} failed: {exc}") from exc

    async def aclose(self) -> None:
        await self._client._client.aclose()


def _chunk(content: str | None, part: Any) -> ChatChunk:
    """A chunk of Ollama's chat or generate stream; the last carries the token counts."""
    if part.done:
        return ChatChunk(
            content=content or "",
            done=True,
            prompt_tokens=part.prompt_eval_count,
            completion_tokens=part.eval_count,
        )
    return ChatChunk(content=content or "")


def _error(exc: ollama.ResponseError, name: str) -> BackendError:
    if (
        exc.status_code == 404
        or "not found" in str(exc.error)
        or "does not exist" in str(exc.error)
    ):
        return ModelNotFound(f"model {name!r}: {exc.error}")
    return BackendError(f"Ollama: {exc.error}")
