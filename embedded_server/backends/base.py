"""What every backend adapter provides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class BackendError(Exception):
    """The runner failed or answered something unusable; the message is shown to users."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    size: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None


@dataclass(frozen=True)
class ChatChunk:
    """A piece of a streamed answer; the last one has ``done`` and the token counts."""

    content: str = ""
    done: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatBackend(Protocol):
    async def list_models(self) -> list[ModelInfo]: ...

    def chat_stream(
        self,
        model: str,
        messages: Sequence[Mapping[str, str]],
        options: Mapping[str, Any],
    ) -> AsyncIterator[ChatChunk]:
        """Stream an answer; raises :class:`BackendError` (also mid-stream)."""
        ...

    async def aclose(self) -> None: ...
