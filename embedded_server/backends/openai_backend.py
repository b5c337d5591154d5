"""Any OpenAI-compatible server (the built-in llama.cpp runner, vLLM, LM Studio, OpenAI):
the official ``openai`` client for its models, a plain httpx stream for chat (see
:meth:`OpenAIBackend.chat_stream`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import openai

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
from embedded_server.backends.gguf_folder import GgufFolder
from embedded_server.logging_setup import pass_request_id

_PASSED_OPTIONS = ("temperature", "top_p", "max_tokens", "stop", "seed")
# Where OpenAI-compatible servers put a model's window in /v1/models, if at all: the one it
# runs with (vLLM, LM Studio's loaded one) and the one it was trained for (llama.cpp's
# server, under "meta"; LM Studio).
_RUNNING_KEYS = ("max_model_len", "loaded_context_length", "n_ctx")
_TRAINED_KEYS = ("n_ctx_train", "max_context_length", "context_length")
# Tokenizer endpoints: llama-cpp-python's (a count), then llama.cpp's server's (the tokens).
_TOKENIZERS = (("extras/tokenize/count", "input"), ("tokenize", "content"))


class OpenAIBackend:
    """``gguf`` is the built-in runner's model folder (imports, deletes, each model's
    window, and its tokenizer when llama.cpp is installed beside the server); other
    OpenAI-compatible servers manage their models themselves, and tokenize when they are
    llama.cpp's. ``context_length`` is the window they run with, when they do not say."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        gguf: GgufFolder | None = None,
        context_length: int | None = None,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.url = base_url
        self.gguf = gguf
        self.context_length = context_length
        self._meta: dict[str, dict[str, Any]] = {}  # /v1/models' entries, by id
        self._tokenizer: tuple[str, str] | None = _TOKENIZERS[0]  # None: the runner has none
        key = api_key or "not-needed"  # local servers ignore the key, the client needs one
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=key)
        # Proxies of the environment (HTTP(S)_PROXY, NO_PROXY) apply, as in the client. The
        # pool times the tokens; a long answer may take minutes.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(600.0, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            event_hooks={"request": [pass_request_id]},
        )
        self._root = base_url.rstrip("/").removesuffix("/v1") + "/"

    async def list_models(self) -> list[ModelInfo]:
        try:
            page = await self._client.models.list()
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.url} did not list its models: {exc}") from exc
        if self.gguf is not None:
            # The built-in runner serves the folder's files (from its start): a deleted one
            # is gone at once, an imported one is served once the runner restarts.
            return self.gguf.models()
        self._meta = {}
        for model in page.data:
            entry = model.to_dict()
            meta = entry.get("meta")
            self._meta[model.id] = {**entry, **meta} if isinstance(meta, dict) else entry
        return [self._info(model.id) for model in page.data]

    def _info(self, model: str) -> ModelInfo:
        window = self._window(model)
        return ModelInfo(
            name=model, context_length=window.tokens, trained_context_length=window.trained
        )

    def _window(self, model: str) -> ContextWindow:
        meta = self._meta.get(model, {})
        trained = _first_int(meta, _TRAINED_KEYS)
        running = _first_int(meta, _RUNNING_KEYS) or self.context_length
        return ContextWindow(running or trained or DEFAULT_WINDOW, trained)

    async def context_window(self, model: str) -> ContextWindow:
        if self.gguf is not None:
            info = next((m for m in self.gguf.models() if m.name == model), None)
            if info is None:
                raise ModelNotFound(f"model {model!r} not found in {self.gguf.folder}")
            return ContextWindow(info.context_length or DEFAULT_WINDOW, info.trained_context_length)
        if model not in self._meta:
            # Not listed yet; a runner that cannot list now says why when asked to answer.
            with contextlib.suppress(BackendError):
                await self.list_models()
        return self._window(model)

    async def count_tokens(self, model: str, texts: Sequence[str]) -> list[int] | None:
        """The built-in runner's tokenizer in this process (see :mod:`gguf_tokenizer`),
        else the runner's tokenize endpoint; ``None`` when it has neither."""
        if self.gguf is not None and self.gguf.tokenizers is not None:
            path = self.gguf.path_of(model)
            return await self.gguf.tokenizers.count(path, texts)
        counts = []
        for text in texts:
            count = await self._tokenize(model, text)
            if count is None:
                return None
            counts.append(count)
        return counts

    async def _tokenize(self, model: str, text: str) -> int | None:
        while self._tokenizer is not None:
            path, field = self._tokenizer
            try:
                response = await self._http.post(
                    self._root + path, json={field: text, "model": model}
                )
            except httpx.HTTPError as exc:
                raise BackendError(f"{self.url}: {_transport_message(exc)}") from exc
            if response.status_code in (404, 405):
                following = _TOKENIZERS.index(self._tokenizer) + 1
                self._tokenizer = _TOKENIZERS[following] if following < len(_TOKENIZERS) else None
                continue
            if response.status_code >= 400:
                raise BackendError(f"{self.url}: {_error_message(response.content, response)}")
            body = response.json()
            return int(body["count"]) if "count" in body else len(body["tokens"])
        return None

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
                    # 4xx: this request's fault (a prompt too long, a bad option), not the
                    # runner's; 5xx: the runner's.
                    failure = RequestRejected if response.status_code < 500 else BackendError
                    raise failure(f"{self.url}: {_error_message(await response.aread(), response)}")
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

    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        """``/v1/embeddings`` of the runner, as floats."""
        if self.gguf is not None:
            self.gguf.path_of(model)  # a deleted model is refused at once (ModelNotFound)
        body = {"model": model, "input": list(texts), "encoding_format": "float"}
        try:
            response = await self._http.post("embeddings", json=body)
        except httpx.HTTPError as exc:
            raise BackendError(f"{self.url}: {_transport_message(exc)}") from exc
        if response.status_code >= 400:
            failure = RequestRejected if response.status_code < 500 else BackendError
            if response.status_code == 404:
                failure = ModelNotFound
            raise failure(f"{self.url}: {_error_message(response.content, response)}")
        try:
            answer = response.json()
            rows = sorted(answer["data"], key=lambda row: row["index"])
            vectors = [list(map(float, row["embedding"])) for row in rows]
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"{self.url}: an embeddings answer without embeddings") from exc
        usage = answer.get("usage") or {}
        return Embeddings(vectors, int(usage.get("prompt_tokens") or 0))

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


def _first_int(meta: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    for key in keys:
        value = meta.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _transport_message(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused: is the model runner running?"
    if isinstance(exc, httpx.TimeoutException):
        return "the model runner did not answer in time"
    return str(exc) or type(exc).__name__
