"""The chat relay: one answer from the model runner to the client, stored as it streams.

The user's messages are stored before the runner is asked; the answer's row once its
first token is out, then its text while it streams (every :data:`FLUSH_INTERVAL_S`, not
per token). It always ends up stored: complete, or ``incomplete`` with its partial text
when the client leaves, the runner dies or errs.

A reader task pulls the runner's stream into a queue; the events drain everything queued
at each step, so a client that reads slower than the model writes gets fewer, larger
``token`` events instead of falling behind. When the client leaves, the reader is
cancelled, which closes the runner's request and stops the generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from embedded_server.backends import BackendError, ChatBackend, ChatChunk
from embedded_server.backends.base import ContextOverflow, Embeddings, ModelNotFound
from embedded_server.backends.pool import CALLER, QueueFull, RunnerPool
from embedded_server.config import ContextPolicy, Settings
from embedded_server.db.keys import KeyStore
from embedded_server.db.models import Message, MessageStatus, new_id
from embedded_server.db.store import ConversationStore, MessageDraft, title_from
from embedded_server.db.usage import UsageStore
from embedded_server.key_limits import KeyLimits
from embedded_server.logging_setup import REQUEST
from embedded_server.metrics import ServerMetrics
from embedded_server.quotas import Quotas, Refused
from embedded_server.services.context import Budgeter, ContextReport, Fitted

log = logging.getLogger(__name__)
# What a caller asked, word for word: only where ASSISTANT_LOG_PROMPTS=true (off by
# default: a prompt may hold code or secrets the caller pasted).
prompts = logging.getLogger("embedded_server.prompts")

FLUSH_INTERVAL_S = 0.5
KEY_CHECK_INTERVAL_S = 2.0  # an API key's open answers end this soon after it is revoked
QUEUE_RETRY_S = 5  # Retry-After when the fair queue is full
ADMIN_LABEL = "(admin)"  # the admin token in the per-key series: no key can have that name


@dataclass(frozen=True)
class Failure:
    """How an answer failed: the message for people, the error ``code`` for programs."""

    message: str
    code: str


@dataclass
class Answer:
    """What is known of the answer being streamed, for storage and the final event."""

    message_id: str  # public id
    conversation_id: str
    model: str = ""
    owner: str | None = None  # the API key's name; None: the admin
    parts: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    done: ChatChunk | None = None
    failure: Failure | None = None
    context: ContextReport | None = None  # what its prompt took of the model's window
    queued: int = 0  # requests ahead of it in the fair queue when it started

    _row: asyncio.Future[str] | None = None

    def row(self, store: ConversationStore) -> asyncio.Future[str]:
        """The insert of the answer's row, started on first use: once the first token is
        out (or when the answer ends without one), so that it never delays it."""
        if self._row is None:
            draft = MessageDraft("assistant", "", self.model or None, MessageStatus.STREAMING)
            self._row = asyncio.ensure_future(
                store.add_turn(self.conversation_id, "", [draft], [self.message_id])
            )
        return self._row

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def tokens_used(self, counted_prompt: int) -> tuple[int, int]:
        """Prompt and answer tokens, as the runner reported them at the end; the prompt
        as counted before it was sent when the answer did not end (or no count came)."""
        done = self.done
        if done is None:
            return counted_prompt, 0
        return done.prompt_tokens or counted_prompt, done.completion_tokens or 0

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


@dataclass(frozen=True)
class Plan:
    """What an answer will be asked with: the model, the prompt fitted into its window, and
    the options within the key's limits."""

    model: str
    fitted: Fitted
    options: dict[str, Any]


class ChatService:
    """Starts answers: stores the user's turn, picks the model, asks the runner.

    Raises :class:`embedded_server.db.store.NotFound` for an unknown conversation.
    """

    def __init__(
        self,
        backend: ChatBackend,
        store: ConversationStore,
        metrics: ServerMetrics,
        settings: Settings,
        budget: Budgeter | None = None,
        keys: KeyStore | None = None,
        quotas: Quotas | None = None,
        limits: KeyLimits | None = None,
        usage: UsageStore | None = None,
    ) -> None:
        """``keys``: an API key's answers end when it is revoked; ``quotas`` count the
        ``limits`` of the key this service answers (``None``: the admin, unlimited);
        ``usage`` keeps what each caller used."""
        self.backend = backend
        self.store = store
        self.metrics = metrics
        self.settings = settings
        self.budget = budget or Budgeter(backend, settings.context_reserve_tokens)
        self.keys = keys
        self.quotas = quotas
        self.limits = limits
        self.usage = usage

    def scoped(self, owner: str | None, limits: KeyLimits | None = None) -> ChatService:
        """This service storing into ``owner``'s conversations (``None``: the admin's),
        within the key's own ``limits`` (over the server's defaults)."""
        if owner == self.store.owner and limits is None:
            return self
        effective = self.quotas.limits_of(limits) if self.quotas and limits else None
        return ChatService(
            self.backend,
            self.store.scoped(owner),
            self.metrics,
            self.settings,
            self.budget,
            self.keys,
            self.quotas,
            effective,
            self.usage,
        )

    def _relay(
        self,
        answer: Answer,
        record: bool,
        prompt_tokens: int,
        spend: Callable[[Answer], Awaitable[None]] | None,
    ) -> Relay:
        """The answer's relay; when it ends, its key's limits get back what they lent
        (``spend``) and its use is added to the caller's (``prompt_tokens``: as counted
        before it was sent, for an answer that reports none)."""
        revoked = None
        if self.keys is not None and answer.owner is not None:
            revoked = functools.partial(self.keys.revoked, answer.owner)
        relay = Relay(self.backend, self.store if record else None, self.metrics, answer, revoked)
        if spend is not None:
            relay.on_close.append(spend)
        if self.usage is not None:
            relay.on_close.append(functools.partial(_record_usage, self.usage, prompt_tokens))
        return relay

    def _key_limits(self) -> tuple[Quotas, KeyLimits, str] | None:
        """The counters, limits and name of the key this service answers (None: the
        admin token, or no limits kept)."""
        if self.quotas is None or self.limits is None or self.store.owner is None:
            return None
        return self.quotas, self.limits, self.store.owner

    def _within_limits(self, model: str, options: dict[str, Any]) -> dict[str, Any]:
        if (limited := self._key_limits()) is None:
            return options
        quotas, limits, key = limited
        return quotas.options_for(key, limits, model, options)

    def _waits_ahead(self, model: str) -> int:
        """How many requests an answer of ``model`` would wait behind for a runner slot;
        raises ``Refused`` (503, ``Retry-After``) when the pool's queue is full."""
        if not isinstance(self.backend, RunnerPool):
            return 0
        try:
            return self.backend.waits_ahead(model)
        except QueueFull as exc:
            raise Refused(str(exc), 503, exc.code, "queue", QUEUE_RETRY_S) from None

    async def _admit(self, prompt_tokens: int) -> Callable[[Answer], Awaitable[None]] | None:
        """Count an answer against the key's limits (raises ``Refused``); returns what
        spends what it used when it ends (a relay's ``on_close``)."""
        if (limited := self._key_limits()) is None:
            return None
        quotas, limits, key = limited
        admitted = await quotas.admit(key, limits, prompt_tokens)

        async def spend(answer: Answer) -> None:
            await quotas.release(admitted, sum(answer.tokens_used(prompt_tokens)))

        return spend

    async def start(
        self,
        messages: Sequence[tuple[str, str]],
        conversation_id: str | None,
        model: str | None,
        system: str | None,
        options: dict[str, Any],
        default_system: bool = True,
        record: bool = True,
        policy: ContextPolicy | None = None,
        reference: str | None = None,
    ) -> Relay:
        """``messages`` are (role, content) pairs; a system message among them is the
        system prompt unless ``system`` is given. Without either, the server's default
        system prompt is used when ``default_system`` (not for the OpenAI API: a client
        that sends no system prompt gets none, and its prompt is never trimmed: it is
        refused when it does not fit). Without ``record`` nothing is stored: the answer is
        only relayed (``ASSISTANT_RECORD_OPENAI=false``). ``reference`` (a project's code
        for this turn) follows the system prompt and is not stored.

        Raises :class:`ContextOverflow` before storing anything when the prompt cannot
        fit its model's window (see :mod:`embedded_server.services.context`), and
        :class:`Refused` when it is over its key's limits."""
        new = [(role, text) for role, text in messages if role != "system"]
        if self.settings.log_prompts:
            for role, text in new:
                prompts.info("%s: %s", role, text, extra={"model": model})
        failure: Failure | None = None
        plan: Plan | None = None
        try:
            plan = await self.fit(
                messages, conversation_id, model, system, options, default_system, policy, reference
            )
        except ContextOverflow:
            raise
        except BackendError as exc:
            failure = Failure(str(exc), exc.code)
        first = next((text for role, text in new if role == "user"), "")
        prompt_tokens = plan.fitted.report.prompt_tokens if plan else 0
        queued = self._waits_ahead(plan.model) if plan else 0
        spend = await self._admit(prompt_tokens) if plan else None
        answer = Answer(new_id(), conversation_id or "", owner=self.store.owner)
        if plan is not None:
            answer.model, answer.context, answer.queued = plan.model, plan.fitted.report, queued
        if record:
            try:
                answer.conversation_id = await self.store.add_turn(
                    conversation_id, title_from(first), [MessageDraft(r, t) for r, t in new]
                )
            except BaseException:  # nothing was asked: the key's limits get back their part
                if spend is not None:
                    await spend(answer)
                raise
        relay = self._relay(answer, record, prompt_tokens, spend)
        answer.failure = failure
        if plan is not None:
            texts = [m["content"] for m in plan.fitted.messages]
            relay.on_done = lambda done: self.budget.counter.learn(
                answer.model, texts, done.prompt_tokens
            )
            CALLER.set(self.store.owner or ADMIN_LABEL)  # its turn in the fair queue
            relay.ask(plan.fitted.messages, plan.options)
        return relay

    async def fit(
        self,
        messages: Sequence[tuple[str, str]],
        conversation_id: str | None,
        model: str | None,
        system: str | None,
        options: dict[str, Any],
        default_system: bool = True,
        policy: ContextPolicy | None = None,
        reference: str | None = None,
    ) -> Plan:
        """The model that would answer (see :meth:`start`), the prompt it would be sent,
        fitted into its window, and the options, within the key's limits; nothing is
        stored (``POST /api/chat/count`` asks this of a draft). Raises
        :class:`ContextOverflow`, :class:`Refused` (a model or an answer's length the key
        may not ask), or :class:`BackendError` when no model can be chosen or the runner
        cannot say its window."""
        new = [(role, text) for role, text in messages if role != "system"]
        system = system or next((text for role, text in messages if role == "system"), None)
        history: list[Message] = []
        if conversation_id:
            history = await self.store.history(conversation_id)
        system = system or (self.settings.system_prompt if default_system else None)
        if reference:  # one system message: every chat template takes one
            system = f"{system}\n\n{reference}" if system else reference
        model = (
            model
            or next((m.model for m in reversed(history) if m.model), None)
            or self.settings.default_model
            or await self._first_model()
        )
        options = self._within_limits(model, options)
        fitted = await self.budget.fit(
            model,
            [{"role": "system", "content": system}] if system else [],
            [{"role": m.role, "content": m.content} for m in history if m.content],
            [{"role": role, "content": text} for role, text in new],
            options.get("max_tokens"),
            (policy or self.settings.context_policy) if default_system else "refuse",
            default_reserve=default_system,
            num_ctx=options.get("num_ctx"),
        )
        return Plan(model, fitted, options)

    async def complete(
        self, prompt: str, suffix: str | None, model: str, options: dict[str, Any]
    ) -> Relay:
        """A plain completion (``/v1/completions``; with ``suffix``, fill-in-the-middle).
        Not recorded as a conversation: an editor asks one at every pause in typing.
        Raises :class:`ContextOverflow` when the prompt cannot fit (never trimmed), and
        :class:`Refused` over its key's limits."""
        options = self._within_limits(model, options)
        if self.settings.log_prompts:
            prompts.info("completion: %s", prompt, extra={"model": model, "suffix": suffix})
        report = await self.budget.check_completion(
            model, prompt, suffix, options.get("max_tokens")
        )
        self._waits_ahead(model)
        spend = await self._admit(report.prompt_tokens)
        answer = Answer(new_id(), "", model=model, owner=self.store.owner)
        relay = self._relay(answer, False, report.prompt_tokens, spend)
        CALLER.set(self.store.owner or ADMIN_LABEL)
        relay.read(self.backend.complete_stream(model, prompt, suffix, options))
        return relay

    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        """``texts`` embedded by ``model`` (``/v1/embeddings``), within the key's limits:
        admitted while the key is within them, then charged the tokens the runner read,
        which join the caller's use and the metrics. Raises :class:`Refused` and the
        runner's errors."""
        self._within_limits(model, {})  # a model the key may not use: refused
        self._waits_ahead(model)
        quotas, admitted = None, None
        if (limited := self._key_limits()) is not None:
            quotas, limits, key = limited
            admitted = await quotas.admit(key, limits, 0)
        caller = self.store.owner or ADMIN_LABEL
        CALLER.set(caller)
        embedded: Embeddings | None = None
        try:
            embedded = await self.backend.embed(model, texts)
        finally:
            tokens = embedded.prompt_tokens if embedded else 0
            if quotas is not None and admitted is not None:
                await quotas.release(admitted, tokens)
            if self.usage is not None:
                try:
                    await self.usage.record(caller, model, tokens, 0, embedded is None)
                except Exception:  # a database hiccup costs a row of the report
                    log.exception("could not record the use of an embeddings request")
        self.metrics.embedded_tokens.labels(model).inc(tokens)
        served = REQUEST.get()
        if served is not None:
            served["tokens"] = tokens
        return embedded

    async def _first_model(self) -> str:
        models = [m for m in await self.backend.list_models() if not m.embedding]
        if not models:
            raise ModelNotFound("the model runner has no models: pull or import one first")
        return models[0].name


class Relay:
    """One answer on its way from the runner to the client.

    :meth:`close` ends it whatever happened, exactly once: the reader cancelled (which
    closes the runner's request), the answer stored, the stream counted out.
    """

    def __init__(
        self,
        backend: ChatBackend,
        store: ConversationStore | None,
        metrics: ServerMetrics,
        answer: Answer,
        revoked: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """``revoked`` says whether the caller's key was revoked since: asked every
        :data:`KEY_CHECK_INTERVAL_S` while the answer streams, and then it ends."""
        self.backend = backend
        self.store = store
        self.metrics = metrics
        self.answer = answer
        self.revoked = revoked
        self.queue: asyncio.Queue[ChatChunk | Failure] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.closed = False
        self.on_done: Callable[[ChatChunk], None] | None = None  # the runner's final counts
        self.on_close: list[Callable[[Answer], Awaitable[None]]] = []  # however it ends
        metrics.active_streams.inc()

    def ask(self, messages: list[dict[str, str]], options: dict[str, Any]) -> None:
        """Start reading the runner's answer (the model works while the response starts)."""
        self.read(self.backend.chat_stream(self.answer.model, messages, options))

    def read(self, stream: AsyncIterator[ChatChunk]) -> None:
        """Start reading ``stream`` (a chat's answer, or a completion) into the queue."""
        self.reader = asyncio.create_task(_read(stream, self.queue))
        if self.revoked is not None:
            self.watcher = asyncio.create_task(self._watch_key(self.revoked))

    async def _watch_key(self, revoked: Callable[[], Awaitable[bool]]) -> None:
        """End the answer once its key is revoked (on any replica: the database says)."""
        while True:
            await asyncio.sleep(KEY_CHECK_INTERVAL_S)
            try:
                if await revoked():
                    self.queue.put_nowait(Failure("the API key was revoked", "key_revoked"))
                    return
            except Exception:  # a database hiccup: asked again at the next interval
                log.warning("could not check the key of answer %s", self.answer.message_id)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The answer's events: ``start``, ``token``..., then ``done`` or ``error`` (the
        routes write them in their own format: NDJSON, or OpenAI's server-sent events)."""
        try:
            answer = self.answer
            if answer.failure is not None and not answer.conversation_id:
                yield _error(answer.failure)  # nothing stored, nothing asked
                return
            start: dict[str, Any] = {
                "type": "start",
                "model": answer.model,
                "conversation_id": answer.conversation_id,
                "message_id": answer.message_id,
            }
            if answer.context is not None:
                start["context"] = answer.context.public()
            if answer.queued:
                start["queued"] = answer.queued
            yield start
            if answer.failure is not None:  # the prompt is stored; no runner was asked
                yield _error(answer.failure)
                return
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
                    yield {"type": "token", "content": text}
                    if self.store:
                        answer.row(self.store)
                end = next((i for i in batch if isinstance(i, Failure) or i.done), None)
                if isinstance(end, Failure):
                    answer.failure = end
                    yield _error(end)
                    return
                if end is not None:
                    answer.done = end
                    if self.on_done is not None:
                        self.on_done(end)
                    figures = answer.figures()
                    usage = {k: figures.pop(k) for k in ("prompt_tokens", "completion_tokens")}
                    yield {"type": "done", "usage": usage, **figures}
                    return
                if self.store and time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
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
        if self.watcher is not None:
            self.watcher.cancel()
        if self.reader is not None:
            self.reader.cancel()  # the client left or the answer ended: stop the runner
        if self.answer.done is None and self.answer.failure is None:
            self.answer.failure = Failure("the client disconnected", "client_gone")
        with anyio.CancelScope(shield=True):  # the final write must survive a disconnect
            _count_tokens(self.metrics, self.answer)
            if self.store:
                await _store_final(self.store, self.answer)
            for closing in self.on_close:  # after the answer's own row: it comes first
                await closing(self.answer)
            if self.reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self.reader
        self.metrics.active_streams.dec()


def _error(failure: Failure) -> dict[str, Any]:
    return {"type": "error", "message": failure.message, "code": failure.code}


async def _read(
    stream: AsyncIterator[ChatChunk], queue: asyncio.Queue[ChatChunk | Failure]
) -> None:
    try:
        async for chunk in stream:
            queue.put_nowait(chunk)
    except BackendError as exc:
        queue.put_nowait(Failure(str(exc), exc.code))
    except Exception as exc:  # a bug in an adapter must end the answer, not hang it
        log.exception("backend stream failed")
        queue.put_nowait(Failure(f"internal error: {exc}", "internal"))


async def _record_usage(usage: UsageStore, prompt_tokens: int, answer: Answer) -> None:
    """Add the answer to its caller's use (a client leaving is not a failure)."""
    failed = answer.done is None and (
        answer.failure is None or answer.failure.code != "client_gone"
    )
    prompt, completion = answer.tokens_used(prompt_tokens)
    try:
        await usage.record(answer.owner or ADMIN_LABEL, answer.model, prompt, completion, failed)
    except Exception:  # a database hiccup costs a row of the report, not the answer
        log.exception("could not record the use of answer %s", answer.message_id)


def _count_tokens(metrics: ServerMetrics, answer: Answer) -> None:
    served = REQUEST.get()  # (the request's access line says them too)
    if served is not None and answer.done:
        served["tokens"] = (answer.done.prompt_tokens or 0) + (answer.done.completion_tokens or 0)
    if answer.done and answer.model:
        tokens = answer.done.completion_tokens or 0
        metrics.tokens.labels(answer.model).inc(tokens)
        metrics.key_tokens.labels(answer.owner or ADMIN_LABEL).inc(tokens)


async def _store_final(store: ConversationStore, answer: Answer) -> None:
    figures = answer.figures() if answer.done else {}
    status_value = MessageStatus.COMPLETE if answer.done else MessageStatus.INCOMPLETE
    try:
        await answer.row(store)
        await store.save_answer(
            answer.message_id,
            answer.text,
            status=status_value.value,
            error=answer.failure.message if answer.failure else None,
            model=answer.model or None,
            context=answer.context.public() if answer.context else None,
            **figures,
        )
    except Exception:
        log.exception("could not store the answer %s", answer.message_id)
