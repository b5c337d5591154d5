"""Request and response bodies (``ThingCreate`` / ``ThingUpdate`` / ``ThingPublic``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from embedded_server.db.models import Conversation, Message


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=1_000_000)


class ChatOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    temperature: float | None = Field(default=None, ge=0, le=5)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    seed: int | None = None


class ChatRequest(BaseModel):
    model: str | None = Field(default=None, min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=1000,
        # also said in the schema, so that clients (and the fuzzer) know it
        json_schema_extra={
            "contains": {"type": "object", "properties": {"role": {"enum": ["user", "assistant"]}}}
        },
    )
    conversation_id: str | None = Field(default=None, min_length=1, max_length=64)
    system: str | None = Field(default=None, max_length=100_000)
    options: ChatOptions = Field(default_factory=ChatOptions)

    @field_validator("messages")
    @classmethod
    def _needs_a_turn(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if all(m.role == "system" for m in messages):
            raise ValueError("needs at least one user or assistant message")
        return messages


class ConversationCreate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)


class ConversationUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    pinned: bool | None = None


class ConversationTruncate(BaseModel):
    message_id: str = Field(min_length=1, max_length=64)


class Truncated(BaseModel):
    deleted: int


class ConversationPublic(BaseModel):
    id: str
    title: str
    pinned: bool
    model: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Conversation) -> ConversationPublic:
        return cls(
            id=c.id,
            title=c.title,
            pinned=c.pinned,
            model=c.model,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class MessagePublic(BaseModel):
    id: str
    role: str
    content: str
    model: str | None
    created_at: datetime
    status: str
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    ttft_ms: float | None
    tokens_per_second: float | None

    @classmethod
    def of(cls, m: Message) -> MessagePublic:
        return cls(
            id=m.public_id,
            role=m.role,
            content=m.content,
            model=m.model,
            created_at=m.created_at,
            status=m.status,
            error=m.error,
            prompt_tokens=m.prompt_tokens,
            completion_tokens=m.completion_tokens,
            ttft_ms=m.ttft_ms,
            tokens_per_second=m.tokens_per_second,
        )


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]

    @classmethod
    def with_messages(cls, c: Conversation) -> ConversationDetail:
        return cls(
            **ConversationPublic.of(c).model_dump(),
            messages=[MessagePublic.of(m) for m in c.messages],
        )


class ConversationPage(BaseModel):
    conversations: list[ConversationPublic]
    total: int


class ModelPublic(BaseModel):
    name: str
    size: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    modified_at: str | None = None
    digest: str | None = None
    bundled: bool | None = None
    conversations: int = Field(0, description="conversations whose model this is")


class LoadedModelPublic(BaseModel):
    name: str
    size: int
    size_vram: int
    gpu_share: float = Field(description="share of the model in VRAM, 0 to 1")
    context_length: int | None = None
    expires_at: str | None = None


class LoadedModelList(BaseModel):
    models: list[LoadedModelPublic]


class PullRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=256)


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=4096, description="a GGUF file on this machine")
    name: str | None = Field(default=None, max_length=128)


class ModelList(BaseModel):
    models: list[ModelPublic]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, Any]
