"""Any OpenAI-compatible server (the built-in llama.cpp runner, vLLM, LM Studio, OpenAI):
the official ``openai`` client for its models, a plain httpx stream for chat (see
:meth:`OpenAIBackend.chat_stream`)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import openai

from embedded_server.backends.base import (
    BackendError,
    ChatChunk,
    LoadedModel,
    ModelInfo,
    Unsupported,
)
from embedded_server.backends.gguf_folder import GgufFolder

_PASSED_OPTIONS = ("temperature", "top_p", "max_tokens", "stop", "seed")
# The official client's limits: a long answer may take minutes, a dead runner should not.
_TIMEOUT = httpx.Timeout(600.0, connect=5.0)


class OpenAIBackend:
    """``gguf`` is the built-in runner's model folder (imports, deletes); other
    OpenAI-compatible servers manage their models themselves."""

    def __init__(self, base_url: str, api_key: str, gguf: GgufFolder | None = None) -> None:
        self.url = base_url
        self.gguf = gguf
        key = api_key or "not-needed"  # local servers ignore the key, the client needs one
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=key)
        # Proxies of the environment (HTTP(S)_PROXY, NO_PROXY) apply, as in the client.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {key}"},
            timeout=_TIMEOUT,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
        )

    async def list_models(self) -> list[ModelInfo]:
        try:
            page = await self._client.models.list()
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.url} did not list its models: {exc}") from exc
        if self.gguf is not None:
            # The built-in runner serves the folder's files (from its start): a deleted one
            # is gone at once, an imported one is served once the runner restarts.
            return self.gguf.models()
        return [ModelInfo(name=model.id) for model in page.data]

    # -- model management -------------------------------------------------------------

    def _folder(self, what: str) -> GgufFolder:
        if self.gguf is None:
            raise Unsupported(f"{self.url} manages its own models: {what} there")
        return self.gguf

    async def loaded(self) -> list[LoadedModel]:
        raise Unsupported("this runner does not report which models are in memory")

    async def show(self, name: str) -> dict[str, Any]:
        path = self._folder("see them").path_of(name)
        return {"name": name, "file": str(path), "size": path.stat().st_size}

    async def pull(self, name: str) -> AsyncGenerator[dict[str, Any], None]:
        raise Unsupported(
            "the built-in runner does not pull models: download a GGUF file and import it"
        )
        yield {}  # pragma: no cover (makes this an async generator)

    async def delete(self, name: str) -> None:
        self._folder("delete them").delete(name)

    async def unload(self, name: str) -> None:
        raise Unsupported("this runner keeps its model loaded while it runs")

    def import_file(self, path: str, name: str | None) -> AsyncGenerator[dict[str, Any], None]:
        return self._folder("import them").import_file(path, name)

    def chat_stream(
        self, model: str, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        body: dict[str, Any] = {"model": model, "messages": list(messages)}
        return self._stream(model, "chat/completions", body, options)

    def complete_stream(
        self, model: str, prompt: str, suffix: str | None, options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        """``/completions``, with ``suffix`` for fill-in-the-middle (llama.cpp's server
        takes it the way OpenAI's completions API did)."""
        body: dict[str, Any] = {"model": model, "prompt": prompt}
        if suffix:
            body["suffix"] = suffix
        return self._stream(model, "completions", body, options)

    async def _stream(
        self, model: str, path: str, body: dict[str, Any], options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        """Stream ``path``, decoding the server-sent events here: the official client's
        typed stream costs several times as much per token, and this loop reads every
        token of every answer. The wire format is the same. A chat's text is in each
        choice's ``delta.content``, a completion's in its ``text``."""
        if self.gguf is not None:
            self.gguf.path_of(model)  # a deleted model is refused at once (ModelNotFound)
        body = {**body, "stream": True}
        body.update((k, v) for k, v in options.items() if k in _PASSED_OPTIONS)
        completion_tokens = 0
        prompt_tokens: int | None = None
        usage_seen = finished = False
        try:
            async with self._http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    raise BackendError(
                        f"{self.url}: {_error_message(await response.aread(), response)}"
                    )
                async for line in response.aiter_lines():
                    if not line.startswith("data: {"):
                        continue  # blank separators, comments, "data: [DONE]"
                    event = json.loads(line[6:])
                    usage = event.get("usage")
                    if usage:
                        usage_seen = True
                        prompt_tokens = usage.get("prompt_tokens")
                        completion_tokens = usage.get("completion_tokens") or 0
                    for choice in event.get("choices") or ():
                        content = (choice.get("delta") or {}).get("content") or choice.get("text")
                        if content:
                            if not usage_seen:
                                completion_tokens += 1  # one streamed delta per token
                            yield ChatChunk(content=content)
                        if choice.get("finish_reason"):
                            finished = True
        except (httpx.HTTPError, ValueError) as exc:
            raise BackendError(f"{self.url}: {_transport_message(exc)}") from exc
        if not finished:
            raise BackendError("the model runner ended the answer without finishing it")
        yield ChatChunk(done=True, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._client.close()


def _error_message(content: bytes, response: httpx.Response) -> str:
    """The server's own message from an OpenAI-style error body, else the status line."""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return f"{inner['message']} (HTTP {response.status_code})"
        if isinstance(inner, str) and inner:
            return f"{inner} (HTTP {response.status_code})"
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


def _transport_message(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused: is the model runner running?"
    if isinstance(exc, httpx.TimeoutException):
        return "the model runner did not answer in time"
    return str(exc) or type(exc).__name__
