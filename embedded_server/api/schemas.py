"""Request and response bodies (``ThingCreate`` / ``ThingUpdate`` / ``ThingPublic``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from embedded_server.config import ContextPolicy
from embedded_server.db.keys import KEY_NAME
from embedded_server.key_limits import KeyLimits

# Text a request may carry: anything but NUL, which PostgreSQL cannot store (and a path
# cannot hold), so a NUL is refused with 422 on every database alike. Names and ids carry
# no control character at all.
TEXT = r"^[^\x00]*$"
NAME = r"^[^\x00-\x1f\x7f]*$"


class ChatMessage(BaseModel):
    """One message of a chat request: its role and text."""

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=1_000_000, pattern=TEXT)


class ChatOptions(BaseModel):
    """Generation options passed on to the runner: these and no others (an option such as
    ``num_gpu`` or ``num_thread`` changes how a shared runner loads the model for everyone,
    so any other is refused with 422 naming it, never dropped or passed on)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    temperature: float | None = Field(default=None, ge=0, le=5)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0, le=1000)
    min_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None
    stop: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=16
    )
    repeat_penalty: float | None = Field(default=None, ge=-10, le=10)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    # The answer's length in tokens (Ollama calls it num_predict).
    max_tokens: int | None = Field(
        default=None, ge=1, le=1_000_000, validation_alias=AliasChoices("max_tokens", "num_predict")
    )
    # The window to run the model with (Ollama's num_ctx), up to ASSISTANT_MAX_CONTEXT_TOKENS.
    num_ctx: int | None = Field(default=None, ge=256, le=1_048_576)


class ChatRequest(BaseModel):
    """A chat request: new messages, optionally in an existing conversation."""

    model: str | None = Field(default=None, min_length=1, max_length=256, pattern=NAME)
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=1000,
        # also said in the schema, so that clients (and the fuzzer) know it
        json_schema_extra={
            "contains": {"type": "object", "properties": {"role": {"enum": ["user", "assistant"]}}}
        },
    )
    conversation_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=NAME)
    system: str | None = Field(default=None, max_length=100_000, pattern=TEXT)
    # Material for this turn only (the code a client found in the user's project): sent
    # after the system prompt, counted in the window, never stored.
    reference: str | None = Field(default=None, max_length=1_000_000, pattern=TEXT)
    options: ChatOptions = Field(default_factory=ChatOptions)
    # What to do when the conversation outgrows the model's window (default: the server's
    # ASSISTANT_CONTEXT_POLICY).
    context_policy: ContextPolicy | None = None

    @field_validator("messages")
    @classmethod
    def _needs_a_turn(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if all(m.role == "system" for m in messages):
            raise ValueError("needs at least one user or assistant message")
        return messages


class DraftCount(BaseModel):
    """What a chat request would take of its model's window (``POST /api/chat/count``):
    ``context`` as the answer's start event would carry it; ``fits`` false, with the
    refusal's message in ``error``, when it would be refused with ``context_overflow``."""

    fits: bool
    model: str | None
    context: dict[str, Any]
    error: str | None = None


class ConversationCreate(BaseModel):
    """A new, empty conversation (its title)."""

    title: str | None = Field(default=None, min_length=1, max_length=200, pattern=TEXT)


class ConversationUpdate(BaseModel):
    """A change to a conversation: its title or its pin."""

    title: str | None = Field(default=None, min_length=1, max_length=200, pattern=TEXT)
    pinned: bool | None = None


class ConversationTruncate(BaseModel):
    """Where to cut a conversation: this message and every later one go."""

    message_id: str = Field(min_length=1, max_length=64, pattern=NAME)


class Truncated(BaseModel):
    """How many messages a truncation deleted."""

    deleted: int


class ConversationPublic(BaseModel):
    """A conversation as the API shows it (read from the stored row)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    pinned: bool
    model: str | None
    owner: str | None = None  # the API key that made it (none: the admin, the panel)
    created_at: datetime
    updated_at: datetime


class MessagePublic(BaseModel):
    """A message as the API shows it: its public id, never the row number."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(validation_alias="public_id")
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
    # An answer's share of the model's context window: window, prompt_tokens, reserved,
    # omitted_messages (earlier messages left out of its prompt), truncated_tokens, exact.
    context: dict[str, Any] | None = None


class ConversationDetail(ConversationPublic):
    """A conversation with its messages in order: all of them, or the newest page of them
    (``?last=N``) with how many older ones remain in ``earlier``."""

    messages: list[MessagePublic]
    earlier: int = 0


class ConversationPage(BaseModel):
    """One page of the conversation list, and how many match in all."""

    conversations: list[ConversationPublic]
    total: int


class ModelPublic(BaseModel):
    """An installed model (the runner's :class:`ModelInfo`)."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    size: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    modified_at: str | None = None
    digest: str | None = None
    bundled: bool | None = None
    context_length: int | None = Field(None, description="the window it runs with, in tokens")
    trained_context_length: int | None = Field(None, description="the window it was trained for")
    conversations: int = Field(0, description="conversations whose model this is")
    embedding: bool = Field(False, description="it makes embeddings (/v1/embeddings), not answers")


class LoadedModelPublic(BaseModel):
    """A model in memory (the runner's :class:`LoadedModel`)."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    size: int
    size_vram: int
    gpu_share: float = Field(description="share of the model in VRAM, 0 to 1")
    context_length: int | None = None
    expires_at: str | None = None

    @field_validator("gpu_share")
    @classmethod
    def _rounded(cls, share: float) -> float:
        return round(share, 3)


class LoadedModelList(BaseModel):
    """The models in the runner's memory."""

    models: list[LoadedModelPublic]


class PullRequest(BaseModel):
    """A model to download into the runner."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=256, pattern=NAME)


class ImportRequest(BaseModel):
    """A GGUF file to copy into the built-in runner's models."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(
        min_length=1, max_length=4096, pattern=TEXT, description="a GGUF file on this machine"
    )
    name: str | None = Field(default=None, max_length=128, pattern=NAME)


class ModelList(BaseModel):
    """The runner's installed models."""

    models: list[ModelPublic]


class Health(BaseModel):
    """The liveness answer: the server is up, and its version."""

    status: str


class Readiness(BaseModel):
    """The readiness answer: whether the database and the runner answer."""

    status: str
    checks: dict[str, Any]


class ServerInfo(BaseModel):
    """``GET /api/info``: the server's version and who asks."""

    version: str
    key: str | None  # the API key's name; None for the admin token
    admin: bool


class RunnerPublic(BaseModel):
    """A runner of the pool as ``GET /api/runners`` shows it (never its key; its URL to
    the admin only)."""

    name: str
    url: str | None  # None for an API key: the cluster's inside is the admin's
    kind: str
    weight: float
    state: str  # starting (not checked yet), up, down (cooling down after failures)
    models: list[str]
    in_flight: int
    slots: int  # requests it takes at once
    queued: int  # requests waiting in the fair queue that it could serve
    requests: int
    failures: int  # consecutive
    last_error: str | None


class RunnerList(BaseModel):
    """The pool's runners."""

    runners: list[RunnerPublic]


# A rate limit as ``limits`` reads it ("600/minute", "10 per 2 hours;1000/day"), or a word.
_ONE_LIMIT = r"\d+ *(/|per) *(\d+ *)?(second|minute|hour|day|month|year)s?"
RATE_LIMIT = rf"^(default|off|{_ONE_LIMIT}( *[;,] *{_ONE_LIMIT})*)$"


class KeyCreate(KeyLimits):
    """A new API key: its name, and its own rate limit and limits (default: the server's)."""

    name: str = Field(pattern=KEY_NAME.pattern)
    rate_limit: str | None = Field(default=None, max_length=64, pattern=RATE_LIMIT)


class KeyUpdate(KeyLimits):
    """Changes to a key: its rate limit (``default``: the server's; ``off``: none) and the
    limits given (null: back to the server's default)."""

    rate_limit: str | None = Field(default=None, max_length=64, pattern=RATE_LIMIT)


class KeyPublic(KeyLimits):
    """An API key as listed: never the key itself."""

    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    requests: int
    revoked: bool
    rate_limit: str | None  # None: the server's default; "": none


class KeyCreated(KeyPublic):
    """A key just made: ``key`` is shown this once."""

    key: str


class UsageReport(BaseModel):
    """What a key (or, with ``key`` null, every caller) used: a row per caller, day (UTC)
    and model, newest first, and their sums."""

    key: str | None
    since: str
    days: list[dict[str, Any]]
    total: dict[str, int]


class KeyList(BaseModel):
    """The server's API keys."""

    keys: list[KeyPublic]
