"""What the assistant server answers, as typed records: conversations, their messages,
models, the server's readiness, who a key is, its runners, each key's use, and errors.

Each record is the panel's copy of one schema of the server's OpenAPI document (named in
its docstring); a test checks each against the schema, so a field renamed on the server
fails in CI, not inside a widget. :func:`parse` builds a record from the server's JSON:
fields it does not know are left out (a newer server may send more), a field it needs and
does not get is an :class:`~elite_panel.core.errors.AssistantError` that names it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from elite_panel.core.errors import AssistantError

R = TypeVar("R")


@dataclass(frozen=True)
class Conversation:
    """A conversation as the server lists it (``ConversationPublic``)."""

    id: str
    title: str
    pinned: bool
    model: str | None
    created_at: datetime
    updated_at: datetime
    owner: str | None = None  # the API key that made it (none: the admin, the panel)


@dataclass(frozen=True)
class Message:
    """One message of a conversation (``MessagePublic``)."""

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
    context: dict[str, Any] | None = None  # what the answer's prompt took of the window


@dataclass(frozen=True)
class ConversationDetail(Conversation):
    """A conversation with a page of its messages (``ConversationDetail``): the newest, or
    those before a message; ``earlier`` older ones remain."""

    messages: tuple[Message, ...] = ()
    earlier: int = 0


@dataclass(frozen=True)
class ConversationPage:
    """A page of the conversation list (``ConversationPage``)."""

    conversations: tuple[Conversation, ...]
    total: int


@dataclass(frozen=True)
class Model:
    """An installed model (``ModelPublic``)."""

    name: str
    size: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    modified_at: str | None = None
    digest: str | None = None
    bundled: bool | None = None
    context_length: int | None = None  # the window it runs with, in tokens
    trained_context_length: int | None = None  # the window it was trained for
    conversations: int = 0  # conversations whose model it is
    embedding: bool = False  # it makes embeddings, not answers

    def label(self) -> str:
        """Its name as lists show it: ``(bundled)``, ``(embeddings)`` after it."""
        marks = [
            word for word, yes in (("bundled", self.bundled), ("embeddings", self.embedding)) if yes
        ]
        return self.name + "".join(f" ({word})" for word in marks)


@dataclass(frozen=True)
class LoadedModel:
    """A model in the runner's memory (``LoadedModelPublic``)."""

    name: str
    size: int
    size_vram: int
    gpu_share: float  # of the model in VRAM, 0 to 1
    context_length: int | None = None
    expires_at: str | None = None


@dataclass(frozen=True)
class Readiness:
    """Whether the server takes requests (``Readiness``), and each check's answer."""

    status: str
    checks: dict[str, Any]


@dataclass(frozen=True)
class ServerInfo:
    """The server's version and who the caller is (``ServerInfo``): ``key`` is the API
    key's name, None for the admin token."""

    version: str
    key: str | None
    admin: bool


@dataclass(frozen=True)
class Runner:
    """A runner of the server's pool (``RunnerPublic``)."""

    name: str
    url: str | None  # None for an API key: the pool's inside is the admin's
    kind: str
    weight: float
    state: str  # starting (not checked yet), up, down (cooling down after failures)
    models: tuple[str, ...]
    in_flight: int
    slots: int  # requests it takes at once
    queued: int  # requests waiting in the fair queue that it could serve
    requests: int
    failures: int  # consecutive
    last_error: str | None


@dataclass(frozen=True)
class UsageReport:
    """What callers used, a row per key and day (``UsageReport``)."""

    key: str | None
    since: str
    days: tuple[dict[str, Any], ...]
    total: dict[str, int]


@dataclass(frozen=True)
class KeyUse:
    """What one key used over a report's days, summed (from a :class:`UsageReport`)."""

    key: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def key_uses(report: UsageReport) -> list[KeyUse]:
    """``report``'s rows summed per key, the one that used the most tokens first."""
    sums: dict[str, dict[str, int]] = {}
    counted = [f.name for f in dataclasses.fields(KeyUse) if f.name != "key"]
    for row in report.days:
        mine = sums.setdefault(str(row["key"]), dict.fromkeys(counted, 0))
        for name in counted:
            mine[name] += int(row[name])
    uses = [KeyUse(key, **counts) for key, counts in sums.items()]
    return sorted(uses, key=lambda use: -(use.prompt_tokens + use.completion_tokens))


@dataclass(frozen=True)
class ErrorBody:
    """A refusal's body (``ErrorBody``): for people, ``error``; to decide by, ``code``."""

    error: str
    code: str = "error"
    detail: Any = field(default=None)


def parse(record: type[R], data: Any) -> R:
    """``record`` built from the server's JSON ``data``."""
    if not isinstance(data, Mapping):
        raise AssistantError(
            f"the assistant server sent {type(data).__name__} for a {record.__name__}",
            "bad_answer",
        )
    values = {}
    for item in dataclasses.fields(record):  # type: ignore[arg-type]
        if item.name in data:
            values[item.name] = _value(_hints(record)[item.name], data[item.name])
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise AssistantError(
                f"the assistant server's {record.__name__} has no {item.name!r}: is it "
                "of another version than this panel?",
                "bad_answer",
            )
    return record(**values)


def to_json(record: Any) -> Any:
    """A record (or a list of them) as JSON values, as the server sent them."""
    if isinstance(record, list | tuple):
        return [to_json(item) for item in record]
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: to_json(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, datetime):
        return record.isoformat()
    return record


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(record: type) -> dict[str, Any]:
    """A record's fields' types (resolved once: they are strings in this module)."""
    if record not in _HINTS:
        _HINTS[record] = typing.get_type_hints(record)
    return _HINTS[record]


def _value(kind: Any, value: Any) -> Any:
    """``value`` as a field of type ``kind`` holds it."""
    if value is None:
        return None
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else ()
    if options:  # X | None
        kind = next(option for option in options if option is not type(None))
    if kind is datetime:
        return datetime.fromisoformat(str(value))
    if dataclasses.is_dataclass(kind):
        return parse(kind, value)  # type: ignore[arg-type]
    if typing.get_origin(kind) is tuple:
        (item, _ellipsis) = typing.get_args(kind)
        return tuple(_value(item, element) for element in value)
    return value
