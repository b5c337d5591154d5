"""Any OpenAI-compatible server (the built-in llama.cpp runner, vLLM, LM Studio, OpenAI)
through the official ``openai`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

import openai

from embedded_server.backends.base import BackendError, ChatChunk, ModelInfo

_PASSED_OPTIONS = ("temperature", "top_p", "max_tokens", "stop", "seed")


class OpenAIBackend:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.url = base_url
        # Local servers ignore the key, but the client requires one.
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "not-needed")

    async def list_models(self) -> list[ModelInfo]:
        try:
            page = await self._client.models.list()
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.url} did not list its models: {exc}") from exc
        return [ModelInfo(name=model.id) for model in page.data]

    async def chat_stream(
        self, model: str, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        kwargs = {k: v for k, v in options.items() if k in _PASSED_OPTIONS}
        completion_tokens = 0
        prompt_tokens: int | None = None
        finished = False
        try:
            stream = await self._client.chat.completions.create(
                model=model,
                messages=list(messages),  # type: ignore[arg-type]
                stream=True,
                **kwargs,
            )
            async for event in cast("openai.AsyncStream[Any]", stream):
                if event.usage is not None:
                    prompt_tokens = event.usage.prompt_tokens
                    completion_tokens = event.usage.completion_tokens
                for choice in event.choices:
                    if choice.delta and choice.delta.content:
                        if event.usage is None:
                            completion_tokens += 1  # one streamed delta per token
                        yield ChatChunk(content=choice.delta.content)
                    if choice.finish_reason:
                        finished = True
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.url}: {exc}") from exc
        if not finished:
            raise BackendError("the model runner ended the answer without finishing it")
        yield ChatChunk(done=True, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    async def aclose(self) -> None:
        await self._client.close()
