"""Request bodies of the OpenAI-compatible API (``/v1``), as coding tools send them.

Unknown fields are ignored, as OpenAI's own API and the runners behind it do (tools send
``n``, ``user``, ``logit_bias``...); what we use is validated like every other request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from embedded_server.api.schemas import NAME, TEXT

# Text without NUL (see schemas.TEXT), said in the schema so that clients know it.
SafeText = Annotated[str, Field(max_length=1_000_000, pattern=TEXT)]


class ContentPart(BaseModel):
    """One part of a message's content; only text parts carry text for a code model."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=64)
    text: SafeText | None = None


class OpenAIMessage(BaseModel):
    """A message: its role and its content, a string or a list of parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: SafeText | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""

    def plain_role(self) -> str:
        """Our roles: a developer message is a system prompt, a tool's result is input."""
        return {"developer": "system", "tool": "user"}.get(self.role, self.role)


class StreamOptions(BaseModel):
    """``stream_options``: whether the stream ends with a chunk carrying the usage."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class GenerationFields(BaseModel):
    """What both endpoints pass on to the runner."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=256, pattern=NAME)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: SafeText | list[SafeText] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None

    def options(self, max_tokens: int | None) -> dict[str, object]:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        found = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": max_tokens,
            "stop": stop or None,
            "seed": self.seed,
        }
        return {k: v for k, v in found.items() if v is not None}


class ChatCompletionRequest(GenerationFields):
    """``POST /v1/chat/completions``."""

    messages: list[OpenAIMessage] = Field(min_length=1, max_length=1000)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)


class CompletionRequest(GenerationFields):
    """``POST /v1/completions``: a prompt, and for fill-in-the-middle the text after it."""

    prompt: SafeText | list[SafeText]
    suffix: SafeText | None = None
    max_tokens: int | None = Field(default=16, ge=1, le=1_000_000)  # OpenAI's default

    def prompt_text(self) -> str:
        return "".join(self.prompt) if isinstance(self.prompt, list) else self.prompt


# A text to embed: not empty (OpenAI refuses "" too), no NUL.
EmbeddingText = Annotated[str, Field(min_length=1, max_length=1_000_000, pattern=TEXT)]


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``: one text or a list of them (token arrays are not taken)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=256, pattern=NAME)
    input: EmbeddingText | Annotated[list[EmbeddingText], Field(min_length=1, max_length=2048)] = (
        Field(description="a text, or up to 2,048 of them")
    )
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    encoding_format: Literal["float", "base64"] = "float"

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input
