"""Request bodies of the OpenAI-compatible API (``/v1``), as coding tools send them.

Unknown fields are ignored, as OpenAI's own API and the runners behind it do (tools send
``n``, ``user``, ``logit_bias``...); what we use is validated like every other request.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from embedded_server.api.schemas import NAME, TEXT


def _text() -> Any:
    return Field(default=None, max_length=1_000_000, pattern=TEXT)


def _no_nul(value: Any) -> Any:
    """A list of strings (a prompt, stop sequences) holds no NUL either."""
    strings = value if isinstance(value, list) else [value]
    if any(isinstance(s, str) and "\x00" in s for s in strings):
        raise ValueError("must not contain NUL characters")
    return value


class ContentPart(BaseModel):
    """One part of a message's content; only text parts carry text for a code model."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=64)
    text: str | None = _text()


class OpenAIMessage(BaseModel):
    """A message: its role and its content, a string or a list of parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = Field(default=None, max_length=1_000_000)

    @field_validator("content")
    @classmethod
    def _content_has_no_nul(cls, value: Any) -> Any:
        return _no_nul(value)

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
    stop: str | list[str] | None = Field(default=None)
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None

    @field_validator("stop")
    @classmethod
    def _stop_has_no_nul(cls, value: Any) -> Any:
        return _no_nul(value)

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

    prompt: str | list[str] = Field(max_length=1_000_000)
    suffix: str | None = _text()
    max_tokens: int | None = Field(default=16, ge=1, le=1_000_000)  # OpenAI's default

    @field_validator("prompt")
    @classmethod
    def _prompt_has_no_nul(cls, value: Any) -> Any:
        return _no_nul(value)

    def prompt_text(self) -> str:
        return "".join(self.prompt) if isinstance(self.prompt, list) else self.prompt
