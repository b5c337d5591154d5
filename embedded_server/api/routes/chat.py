"""Streaming chat: NDJSON events ``start``, ``token``..., then ``done`` or ``error``.

The user's messages are stored before the backend is called; the answer's row right after
its first token, then its text while it streams (every :data:`FLUSH_INTERVAL_S`, not per
token). It always ends up stored: complete, or ``incomplete`` with its partial text when
the client leaves, the backend dies or errs.

A reader task, started as soon as the prompt is stored, pulls the backend's stream into a
queue; the response drains everything queued at each step, so a client that reads slower
than the model writes gets fewer, larger ``token`` events instead of falling behind. When
the client disconnects, the reader is cancelled, which closes the backend request and
stops the generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from embedded_server.api.deps import get_backend, get_metrics, get_settings, get_store
from embedded_server.api.schemas import ChatRequest
from embedded_server.backends import BackendError, ChatBackend, ChatChunk
from embedded_server.db.models import Message, MessageStatus, new_id
from embedded_server.db.store import ConversationStore, MessageDraft, NotFound, title_from
from embedded_server.errors import ERROR_RESPONSES
from embedded_server.metrics import ServerMetrics

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["chat"], responses=ERROR_RESPONSES)

FLUSH_INTERVAL_S = 0.5


@dataclass
class _Failure:
    message: str


@dataclass
class _Answer:
    """What is known of the answer being streamed, for storage and the final event."""

    message_id: str  # public id
    conversation_id: str
    model: str = ""
    parts: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    done: ChatChunk | None = None
    error: str | None = None

    _row: asyncio.Future[str] | None = None

    def row(self, store: ConversationStore) -> asyncio.Future[str]:
        """The insert of the answer's row, started on first use.

        It is started once the first token is out (or when the answer ends without one),
        so that it never delays the first token; the user's message was stored before the
        backend was asked, and the row exists long before the first flush.
        """
        if self._row is None:
            draft = MessageDraft("assistant", "", self.model or None, MessageStatus.STREAMING)
            self._row = asyncio.ensure_future(
                store.add_turn(self.conversation_id, "", [draft], [self.message_id])
            )
        return self._row

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def figures(self) -> dict[str, Any]:
        end = time.perf_counter()
        completion = (self.done.completion_tokens if self.done else None) or 0
        generating = end - (self.first_token or self.started)
        return {
            "prompt_tokens": self.done.prompt_tokens if self.done else None,
            "completion_tokens": completion,
            "ttft_ms": round(((self.first_token or end) - self.started) * 1000, 1),
            "tokens_per_second": round(completion / generating, 1) if generating > 0 else None,
        }


@router.post(
    "/chat",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "NDJSON events: start, token..., done or error",
        }
    },
)
async def chat(
    body: ChatRequest,
    request: Request,
) -> StreamingResponse:
    # The app's services called for here, not declared as four dependencies: FastAPI
    # solves each dependency on every request (measured: 0.15 ms of every first token).
    backend = await get_backend(request)
    settings = await get_settings(request)
    store = await get_store(request)
    metrics = await get_metrics(request)
    new = [m for m in body.messages if m.role != "system"]
    system = body.system or next((m.content for m in body.messages if m.role == "system"), None)
    history: list[Message] = []
    try:
        if body.conversation_id:
            history = await store.history(body.conversation_id)
        first = next((m.content for m in new if m.role == "user"), "")
        title = title_from(first)
        conversation_id = await store.add_turn(
            body.conversation_id, title, [MessageDraft(m.role, m.content) for m in new]
        )
    except NotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no conversation {body.conversation_id!r}"
        ) from None
    answer = _Answer(message_id=new_id(), conversation_id=conversation_id)
    messages = [{"role": "system", "content": system or settings.system_prompt}]
    messages += [{"role": m.role, "content": m.content} for m in history if m.content]
    messages += [{"role": m.role, "content": m.content} for m in new]
    try:
        answer.model = (
            body.model
            or next((m.model for m in reversed(history) if m.model), None)
            or settings.default_model
            or await _first_model(backend)
        )
    except BackendError as exc:
        answer.error = str(exc)
    relay = _Relay(backend, store, metrics, answer)
    if answer.error is None:
        await relay.ask(messages, body.options.model_dump(exclude_none=True))
    return _RelayResponse(relay)


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode() + b"\n"


class _Relay:
    """One answer on its way from the backend to the client.

    The backend is asked (:meth:`ask`) in the handler, as soon as the user's message is
    stored, so the model is already working while the response starts and ``start`` is
    sent (measured: the request leaves about 0.6 ms sooner). :meth:`close` ends it whatever
    happened, exactly once: the reader cancelled (which closes the backend request), the
    answer stored, the stream counted out.
    """

    def __init__(
        self,
        backend: ChatBackend,
        store: ConversationStore,
        metrics: ServerMetrics,
        answer: _Answer,
    ) -> None:
        self.backend = backend
        self.store = store
        self.metrics = metrics
        self.answer = answer
        self.queue: asyncio.Queue[ChatChunk | _Failure] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None
        self.closed = False
        metrics.active_streams.inc()

    async def ask(self, messages: list[dict[str, str]], options: dict[str, Any]) -> None:
        self.reader = asyncio.create_task(
            _read(self.backend, self.answer.model, messages, options, self.queue)
        )
        await asyncio.sleep(0)  # the request leaves now, not after the response has started

    async def events(self) -> AsyncIterator[bytes]:
        try:
            answer = self.answer
            if self.reader is None:  # no model to ask
                yield _line({"type": "error", "message": answer.error})
                return
            yield _line(
                {
                    "type": "start",
                    "model": answer.model,
                    "conversation_id": answer.conversation_id,
                    "message_id": answer.message_id,
                }
            )
            last_flush = time.monotonic()
            while True:
                batch = [await self.queue.get()]
                while not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                text = "".join(i.content for i in batch if isinstance(i, ChatChunk) and i.content)
                if text:
                    if answer.first_token is None:
                        answer.first_token = time.perf_counter()
                        self.metrics.ttft.observe(answer.first_token - answer.started)
                    answer.parts.append(text)
                    yield _line({"type": "token", "content": text})
                    answer.row(self.store)
                end = next((i for i in batch if isinstance(i, _Failure) or i.done), None)
                if isinstance(end, _Failure):
                    answer.error = end.message
                    yield _line({"type": "error", "message": end.message})
                    return
                if end is not None:
                    answer.done = end
                    figures = answer.figures()
                    usage = {k: figures.pop(k) for k in ("prompt_tokens", "completion_tokens")}
                    yield _line({"type": "done", "usage": usage, **figures})
                    return
                if time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
                    last_flush = time.monotonic()
                    await answer.row(self.store)
                    await self.store.save_answer(answer.message_id, answer.text)
        finally:
            # Here, before the response ends: a client that has read "done" finds it stored.
            await self.close()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.reader is not None:
            self.reader.cancel()  # the client left or the answer ended: stop the backend
        if self.answer.done is None and self.answer.error is None:
            self.answer.error = "the client disconnected"
        with anyio.CancelScope(shield=True):  # the final write must survive a disconnect
            await _store_final(self.store, self.metrics, self.answer)
            if self.reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self.reader
        self.metrics.active_streams.dec()


class _RelayResponse(StreamingResponse):
    """Closes its relay however the response ends, also when it never began to stream
    (a client gone before the first byte: the events generator then never runs)."""

    def __init__(self, relay: _Relay) -> None:
        super().__init__(relay.events(), media_type="application/x-ndjson")
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.relay.close()


async def _read(
    backend: ChatBackend,
    model: str,
    messages: list[dict[str, str]],
    options: dict[str, Any],
    queue: asyncio.Queue[ChatChunk | _Failure],
) -> None:
    try:
        first = True
        async for chunk in backend.chat_stream(model, messages, options):
            queue.put_nowait(chunk)
            if first and chunk.content:
                # A fast backend's lines arrive many to a read, and parsing them all would
                # hold the loop before the first token goes out: let the relay send it now.
                first = False
                await asyncio.sleep(0)
    except BackendError as exc:
        queue.put_nowait(_Failure(str(exc)))
    except Exception as exc:  # a bug in an adapter must end the answer, not hang it
        log.exception("backend stream failed")
        queue.put_nowait(_Failure(f"internal error: {exc}"))


async def _store_final(store: ConversationStore, metrics: ServerMetrics, answer: _Answer) -> None:
    figures = answer.figures() if answer.done else {}
    if answer.done and answer.model:
        metrics.tokens.labels(answer.model).inc(figures.get("completion_tokens") or 0)
    status_value = MessageStatus.COMPLETE if answer.done else MessageStatus.INCOMPLETE
    try:
        await answer.row(store)
        await store.save_answer(
            answer.message_id,
            answer.text,
            status=status_value.value,
            error=answer.error,
            model=answer.model or None,
            **figures,
        )
    except Exception:
        log.exception("could not store the answer %s", answer.message_id)


async def _first_model(backend: ChatBackend) -> str:
    models = await backend.list_models()
    if not models:
        raise BackendError("the model runner has no models: pull or import one first")
    return models[0].name
