"""What every backend adapter provides."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# The window of a model whose runner does not say (Ollama's default num_ctx).
DEFAULT_WINDOW = 4096


class BackendError(Exception):
    """The runner failed or answered something unusable; the message is shown to users,
    ``code`` tells programs which failure it is (the API's error ``code``)."""

    code = "runner_failed"


class ModelNotFound(BackendError):
    """No model of that name."""

    code = "model_not_found"


class RequestRejected(BackendError):
    """The runner refused this request (a 4xx: a bad option, a prompt it will not take):
    the request's fault, not the runner's, so it never counts against its health."""

    code = "invalid_request"


class ContextOverflow(RequestRejected):
    """The prompt does not fit the model's context window: never sent to the runner.

    ``tokens`` is what the prompt needs, ``window`` the model's context and ``reserved``
    the room kept for the answer."""

    code = "context_overflow"

    def __init__(self, message: str, tokens: int, window: int, reserved: int) -> None:
        super().__init__(message)
        self.tokens = tokens
        self.window = window
        self.reserved = reserved


class Unsupported(BackendError):
    """This runner cannot do that (pulling into the built-in runner, importing into Ollama)."""

    code = "unsupported"


@dataclass(frozen=True)
class ModelInfo:
    """An installed model as a runner describes it."""

    name: str
    size: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    modified_at: str | None = None
    digest: str | None = None
    bundled: bool | None = None  # the built-in runner's own model: never deleted
    context_length: int | None = None  # the window the runner runs it with, in tokens
    trained_context_length: int | None = None  # the window it was trained for
    embedding: bool = False  # it makes embeddings (/v1/embeddings), it does not chat


@dataclass(frozen=True)
class ContextWindow:
    """A model's context window as its runner runs it, and the one it was trained for."""

    tokens: int
    trained: int | None = None


@dataclass(frozen=True)
class LoadedModel:
    """A model in memory (Ollama's ``/api/ps``): how much of it is on the GPU."""

    name: str
    size: int
    size_vram: int
    context_length: int | None = None
    expires_at: str | None = None

    @property
    def gpu_share(self) -> float:
        """Share of the model's bytes in VRAM, 0 to 1 (as the panel's dashboard reads it)."""
        return min(self.size_vram / self.size, 1.0) if self.size else 0.0


@dataclass(frozen=True)
class Embeddings:
    """A runner's embeddings of some texts, in their order, and the tokens it read."""

    vectors: list[list[float]]
    prompt_tokens: int


@dataclass(frozen=True)
class ChatChunk:
    """A piece of a streamed answer; the last one has ``done`` and the token counts."""

    content: str = ""
    done: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatBackend(Protocol):
    """What the chat relay needs of a runner: its models and a streamed answer."""

    async def list_models(self) -> list[ModelInfo]: ...

    def chat_stream(
        self,
        model: str,
        messages: Sequence[Mapping[str, str]],
        options: Mapping[str, Any],
    ) -> AsyncIterator[ChatChunk]:
        """Stream an answer; raises :class:`BackendError` (also mid-stream)."""
        ...

    def complete_stream(
        self, model: str, prompt: str, suffix: str | None, options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        """Stream a plain completion of ``prompt``; with ``suffix``, the text that fills
        the gap between them (fill-in-the-middle, what editors' autocompletion asks)."""
        ...

    async def context_window(self, model: str) -> ContextWindow:
        """The window ``model`` runs with (raises :class:`ModelNotFound`)."""
        ...

    async def count_tokens(self, model: str, texts: Sequence[str]) -> list[int] | None:
        """Each text's tokens by the runner's own tokenizer; ``None``: it has none."""
        ...

    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        """``texts`` embedded by ``model`` (raises :class:`ModelNotFound`, or
        :class:`RequestRejected` for a model that makes no embeddings)."""
        ...

    async def aclose(self) -> None: ...


class ModelAdmin(Protocol):
    """Model management; a runner that cannot do one raises :class:`Unsupported`."""

    async def loaded(self) -> list[LoadedModel]: ...

    async def show(self, name: str) -> dict[str, Any]: ...

    def pull(self, name: str) -> AsyncGenerator[dict[str, Any], None]:
        """Progress events (status, digest, completed, total); failures raise."""
        ...

    async def delete(self, name: str) -> None: ...

    async def unload(self, name: str) -> None: ...

    def import_file(self, path: str, name: str | None) -> AsyncGenerator[dict[str, Any], None]:
        """Copy a GGUF file into the runner's models: progress events, then success."""
        ...


class RunnerBackend(ChatBackend, ModelAdmin, Protocol):
    """One runner's adapter: answers and model management."""
