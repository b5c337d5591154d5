"""The Ollama API through the official ``ollama`` client."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import ollama

from embedded_server.backends.base import (
    DEFAULT_WINDOW,
    BackendError,
    ChatChunk,
    ContextWindow,
    Embeddings,
    LoadedModel,
    ModelInfo,
    ModelNotFound,
    RequestRejected,
    Unsupported,
)
from embedded_server.backends.gguf_header import GgufError, write_metadata
from embedded_server.backends.gguf_tokenizer import GgufTokenizers
from embedded_server.logging_setup import pass_request_id

log = logging.getLogger(__name__)

# Ollama's option names for the portable ones of our API.
_OPTION_NAMES = {"max_tokens": "num_predict"}
_NUM_CTX = re.compile(r"^num_ctx\s+(\d+)", re.MULTILINE)  # in /api/show's "parameters"
WINDOW_TTL_S = 30.0  # a model's window is asked again after this (loaded, reloaded)


class OllamaBackend:
    """An Ollama runner through the official ``ollama`` client.

    ``context_length`` is the window Ollama runs models with when neither the model
    (``PARAMETER num_ctx``) nor a loaded instance says (``OLLAMA_CONTEXT_LENGTH`` of that
    server; Ollama's own default otherwise, :data:`DEFAULT_WINDOW`).

    With ``tokenizers`` (llama.cpp's binding installed here), prompts are counted by each
    model's own vocabulary: ``/api/show`` with ``verbose`` shows it (tokens, merges, the
    pre-tokenizer), written back as a GGUF header without tensors and loaded by llama.cpp,
    the tokenizer Ollama's runner uses. Without it, or for a model whose vocabulary
    llama.cpp does not load, the prompts are estimated."""

    def __init__(
        self,
        url: str,
        api_key: str = "",
        context_length: int | None = None,
        connect_timeout_s: float = 5.0,
        tokenizers: GgufTokenizers | None = None,
    ) -> None:
        self.url = url
        self.context_length = context_length
        self.tokenizers = tokenizers
        self._windows: dict[str, tuple[float, ContextWindow]] = {}
        self._vocabularies: dict[str, asyncio.Task[Path | None]] = {}
        self._vocabulary_dir: Path | None = None
        # A key for an Ollama behind an authenticating proxy (ASSISTANT_RUNNERS' api_key).
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = ollama.AsyncClient(
            host=url,
            headers=headers,
            timeout=httpx.Timeout(600.0, connect=connect_timeout_s),
            event_hooks={"request": [pass_request_id]},
        )

    async def context_window(self, model: str) -> ContextWindow:
        """The ``num_ctx`` in effect: a loaded instance's (``/api/ps``), else the model's
        parameter, else the server's default; never more than it was trained for
        (``/api/show``'s ``<architecture>.context_length``)."""
        cached = self._windows.get(model)
        if cached and time.monotonic() - cached[0] < WINDOW_TTL_S:
            return cached[1]
        with self._stream_failures():
            shown = await self._client.show(model)
            running = await self._client.ps()
        info = getattr(shown, "modelinfo", None) or {}
        architecture = info.get("general.architecture")
        trained = info.get(f"{architecture}.context_length")
        trained = trained if isinstance(trained, int) and trained > 0 else None
        loaded = next(
            (
                getattr(m, "context_length", None)
                for m in running.models
                if m.model in (model, f"{model}:latest")
            ),
            None,
        )
        parameter = _NUM_CTX.search(shown.parameters or "")
        tokens = loaded or (int(parameter.group(1)) if parameter else None)
        tokens = tokens or self.context_length or DEFAULT_WINDOW
        window = ContextWindow(min(tokens, trained) if trained else tokens, trained)
        self._windows[model] = (time.monotonic(), window)
        return window

    async def count_tokens(self, model: str, texts: Sequence[str]) -> list[int] | None:
        """The tokens of ``texts`` by the model's vocabulary; ``None`` where it cannot be
        loaded here (the caller estimates, learning from ``prompt_eval_count``)."""
        if self.tokenizers is None:
            return None
        task = self._vocabularies.get(model)
        if task is None:  # prepared once, and not cancelled by a caller's deadline
            task = self._vocabularies[model] = asyncio.create_task(
                self._vocabulary(model, self.tokenizers)
            )
        path = await asyncio.shield(task)
        return None if path is None else await self.tokenizers.count(path, texts)

    async def _vocabulary(self, model: str, tokenizers: GgufTokenizers) -> Path | None:
        """The model's vocabulary as a GGUF file llama.cpp loads, or ``None``."""
        try:
            response = await self._client._client.post(
                "/api/show", json={"model": model, "verbose": True}
            )
            response.raise_for_status()
            shown = await asyncio.to_thread(json.loads, response.content)
            info = shown.get("model_info") or {}
            if not info.get("tokenizer.ggml.tokens"):
                log.info("Ollama shows no vocabulary of %s: its prompts are estimated", model)
                return None
            if self._vocabulary_dir is None:
                self._vocabulary_dir = Path(tempfile.mkdtemp(prefix="elite-vocabulary-"))
            path = self._vocabulary_dir / f"{hashlib.sha256(model.encode()).hexdigest()[:16]}.gguf"
            await asyncio.to_thread(write_metadata, path, info)
            await tokenizers.count(path, [""])  # loads it: a failure shows here
        except (httpx.HTTPError, ValueError, GgufError, OSError) as exc:
            log.warning("the vocabulary of %s could not be loaded (%s): estimating", model, exc)
            return None
        log.info("counting the prompts of %s with its own vocabulary", model)
        return path

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
                    embedding=_embedding_family(details.family if details else None),
                )
            )
        return models

    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        """``/api/embed`` (inputs longer than the model's window are cut to it)."""
        with self._failures(model):
            response = await self._client.embed(model=model, input=list(texts), truncate=True)
        vectors = [list(vector) for vector in response.embeddings]
        return Embeddings(vectors, response.prompt_eval_count or 0)

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
        """Ollama's errors of a request about a model (a chat, its window) as ours."""
        try:
            yield
        except ollama.ResponseError as exc:
            failure = BackendError  # 5xx, or -1: an error line once the stream had begun
            if exc.status_code == 404:
                failure = ModelNotFound
            elif 400 <= exc.status_code < 500:
                failure = RequestRejected  # the request's fault: a bad option, say
            raise failure(f"Ollama: {exc.error}") from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise BackendError(f"Ollama at {self.url} failed: {exc}") from exc

    async def aclose(self) -> None:
        for task in self._vocabularies.values():
            task.cancel()
        await self._client._client.aclose()
        if self._vocabulary_dir is not None:
            shutil.rmtree(self._vocabulary_dir, ignore_errors=True)


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


def _embedding_family(family: str | None) -> bool:
    """Whether a model of ``family`` makes embeddings: Ollama lists no capabilities, and
    its embedding models are BERTs (all-minilm, nomic-embed-text, mxbai-embed-large,
    bge-m3, snowflake-arctic-embed: ``bert``, ``nomic-bert``, ``xlm-roberta``)."""
    return family is not None and ("bert" in family or "roberta" in family)


def _error(exc: ollama.ResponseError, name: str) -> BackendError:
    if (
        exc.status_code == 404
        or "not found" in str(exc.error)
        or "does not exist" in str(exc.error)
    ):
        return ModelNotFound(f"model {name!r}: {exc.error}")
    return BackendError(f"Ollama: {exc.error}")
