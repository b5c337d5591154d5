"""The pool of model runners the server answers with.

Routing: a request goes only to the runners that list its model, and among them to the
one with the fewest requests in flight per unit of weight (a faster runner finishes
sooner, so it gets more); a tie goes to the heavier runner, then to the one that has been
generating faster lately (its recent seconds per token), then at random. A runner no
one lists the model of is asked anyway by the least busy runner, whose refusal names
the model (a one-runner pool behaves exactly as that runner).

Health: every ``check_interval_s`` each runner lists its models (which also refreshes
what it serves). ``failures`` consecutive failures, of checks or of requests, take it out;
it stays out at least ``cooldown_s`` and comes back on its next good check. While every
runner is out, requests still go to them, so the error says what is wrong.

A request that fails before its first token is sent to another runner without the client
noticing (and, once no other is left, to the last one once more: a kept-alive connection the
runner had just closed fails that way); once a token is out, a failure ends the answer (the
relay keeps what came).

Slots and the fair queue: each runner takes ``slots`` requests at once. When every runner
that would serve a request is full, the request waits in a queue served round-robin across
callers (API keys; :data:`CALLER` says whose a request is): a key with 50 waiting does not
delay a key with one by 50 turns. A freed slot goes straight to the next waiter it can
serve (a request arriving meanwhile waits behind). The queue is bounded (``max_queue``:
the caller is refused before its answer starts) and a wait has a deadline
(``queue_timeout_s``).

A request's own fault (an unknown model, an option or a prompt the runner refuses with a
4xx) never counts against the runner. A runner that sends no first token within
``first_token_timeout_s``, or no next one within ``token_timeout_s``, is hung: the request
fails with that said, the runner is out at once and is not asked again for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from embedded_server.backends.base import (
    BackendError,
    ChatChunk,
    ContextWindow,
    Embeddings,
    LoadedModel,
    ModelInfo,
    ModelNotFound,
    RequestRejected,
    RunnerBackend,
    Unsupported,
)
from embedded_server.metrics import ServerMetrics

log = logging.getLogger(__name__)

State = Literal["starting", "up", "down"]
# Whose request this is (an API key's name; the chat service sets it): the fair queue takes
# turns by it.
CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="")


@dataclass
class Runner:
    """One runner of the pool and what the pool knows of it."""

    name: str
    url: str
    backend: RunnerBackend
    kind: str = "ollama"
    weight: float = 1.0
    slots: int = 4  # requests it takes at once; more wait in the pool's fair queue
    state: State = "starting"  # until its first check: taken as up
    models: frozenset[str] = frozenset()
    in_flight: int = 0
    failures: int = 0  # consecutive
    down_since: float = 0.0
    last_error: str | None = None
    requests: int = 0
    pace: float = 0.0  # recent seconds per streamed chunk (moving average); 0: not known

    def timed(self, seconds: float, chunks: int) -> None:
        """Fold one answer's pace into :attr:`pace`."""
        if chunks > 1:
            sample = seconds / (chunks - 1)
            self.pace = sample if not self.pace else 0.8 * self.pace + 0.2 * sample

    def has(self, model: str) -> bool:
        return model in self.models or f"{model}:latest" in self.models


def least_busy(runners: Sequence[Runner]) -> Runner:
    """The runner with the fewest requests in flight per unit of weight; ties to the
    heavier one, then to the faster one lately, then at random."""
    return min(runners, key=lambda r: (r.in_flight / r.weight, -r.weight, r.pace, random.random()))


Pick = Callable[[Sequence[Runner]], Runner]


class RunnerTimeout(BackendError):
    """A runner that accepted a request sent nothing in time."""

    code = "runner_timeout"


@dataclass
class HealthPolicy:
    """When runners are checked, taken out and let back in, and how long a request waits
    for its first token and for each next one."""

    check_interval_s: float = 5.0
    failures: int = 2
    cooldown_s: float = 10.0
    first_token_timeout_s: float = 300.0
    token_timeout_s: float = 60.0
    max_queue: int = 256  # requests waiting for a slot, all callers together
    queue_timeout_s: float = 300.0


class QueueFull(BackendError):
    """Every slot is taken and the queue is full."""

    code = "queue_full"


class QueueTimeout(BackendError):
    """A request waited for a slot longer than the queue's deadline."""

    code = "queue_timeout"


@dataclass
class Waiter:
    """A request waiting for a slot: the runners that may serve it, and its turn."""

    runners: frozenset[str]
    turn: asyncio.Future[Runner]


@dataclass
class RunnerPool:
    """Runners behind one :class:`RunnerBackend` (what the chat service and routes use)."""

    runners: list[Runner]
    metrics: ServerMetrics
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    pick: Pick = least_busy
    _checks: asyncio.Task[None] | None = None
    # The fair queue: each caller's waiters, callers in the order of their turns.
    _waiting: OrderedDict[str, deque[Waiter]] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        for runner in self.runners:
            self.metrics.runner_up.labels(runner.name).set(1)
            self.metrics.runner_in_flight.labels(runner.name).set(0)

    # -- health -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background health checks (the app's lifespan)."""
        self._checks = asyncio.create_task(self._check_forever(), name="runner-checks")

    async def _check_forever(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.policy.check_interval_s)

    async def check(self) -> None:
        """Check every runner that is not cooling down, at once."""
        now = time.monotonic()
        due = [
            r
            for r in self.runners
            if r.state != "down" or now - r.down_since >= self.policy.cooldown_s
        ]
        await asyncio.gather(*(self._check(r) for r in due))
        self._publish_up()

    def _publish_up(self) -> None:
        """``assistant_backend_up``: 1 while at least one runner is not out."""
        self.metrics.backend_up.set(int(any(r.state != "down" for r in self.runners)))

    async def _check(self, runner: Runner) -> None:
        try:
            async with asyncio.timeout(max(self.policy.check_interval_s, 2.0)):
                models = await runner.backend.list_models()
        except TimeoutError:
            self._failed(runner, "did not answer its health check in time")
        except BackendError as exc:
            self._failed(runner, str(exc))
        except Exception as exc:  # a bug in an adapter must not stop the checks
            log.exception("health check of runner %s failed", runner.name)
            self._failed(runner, f"internal error: {exc}")
        else:
            runner.models = frozenset(m.name for m in models)
            self._succeeded(runner)

    def _succeeded(self, runner: Runner) -> None:
        runner.failures = 0
        if runner.state != "up":
            if runner.state == "down":
                log.info("runner %s is back", runner.name)
            runner.state = "up"
            self.metrics.runner_up.labels(runner.name).set(1)

    def _failed(self, runner: Runner, error: str, at_once: bool = False) -> None:
        """One failure of ``runner``; ``at_once``: it is out now (hung)."""
        runner.failures += 1
        runner.last_error = error
        self.metrics.runner_errors.labels(runner.name).inc()
        if runner.state == "down":
            runner.down_since = time.monotonic()  # a failed check while out: out longer
        elif at_once or runner.failures >= self.policy.failures:
            log.warning("runner %s taken out of the pool: %s", runner.name, error)
            runner.state = "down"
            runner.down_since = time.monotonic()
            self.metrics.runner_up.labels(runner.name).set(0)
            self._publish_up()

    # -- routing ------------------------------------------------------------------------

    def candidates(self, model: str, tried: frozenset[str] = frozenset()) -> list[Runner]:
        """The runners a request for ``model`` may go to next (see the module's
        docstring); empty once every runner that lists it was tried."""
        untried = [r for r in self.runners if r.name not in tried]
        having = [r for r in untried if r.has(model)]
        listed = any(r.has(model) for r in self.runners)
        choices = having or ([] if listed else untried)
        return [r for r in choices if r.state != "down"] or choices

    async def _route(
        self, model: str, ask: Callable[[RunnerBackend], AsyncIterator[ChatChunk]]
    ) -> AsyncIterator[ChatChunk]:
        tried: frozenset[str] = frozenset()
        again = True  # one more try of a runner when none is left (a dropped idle connection)
        while choices := self.candidates(model, tried):
            runner = await self._acquire(choices)
            tried |= {runner.name}
            first_token = False
            chunks = 0
            sent = started = time.perf_counter()
            try:
                async with contextlib.aclosing(ask(runner.backend)) as stream:  # type: ignore[type-var]
                    while (chunk := await self._next(stream, first_token)) is not None:
                        chunks += 1
                        if not first_token:
                            first_token = True
                            started = time.perf_counter()
                            self.metrics.runner_ttft.labels(runner.name).observe(started - sent)
                            self._succeeded(runner)
                        yield chunk
                runner.timed(time.perf_counter() - started, chunks)
                return
            except (ModelNotFound, RequestRejected):
                raise  # the runner is well; the request is wrong
            except RunnerTimeout as exc:
                self._failed(runner, str(exc), at_once=True)
                if first_token or not self.candidates(model, tried):
                    raise
                log.info("runner %s hung before answering, asking another: %s", runner.name, exc)
            except BackendError as exc:
                self._failed(runner, str(exc))
                if first_token:
                    raise
                if not self.candidates(model, tried):
                    if not again:
                        raise
                    again, tried = False, tried - {runner.name}
                log.info("runner %s failed before answering, asking another: %s", runner.name, exc)
            finally:
                self._count_in(runner, -1)

    async def _next(self, stream: AsyncIterator[ChatChunk], first_token: bool) -> ChatChunk | None:
        """The stream's next chunk (``None`` at its end) within the policy's time."""
        limit = self.policy.token_timeout_s if first_token else self.policy.first_token_timeout_s
        try:
            async with asyncio.timeout(limit):
                return await anext(stream)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            what = "next token" if first_token else "first token"
            raise RunnerTimeout(
                f"the model runner sent no {what} within {limit:g} s: it may be hung or "
                "overloaded (it is out of the pool until it answers a health check)"
            ) from None

    def _count_in(self, runner: Runner, change: int) -> None:
        runner.in_flight += change
        self.metrics.runner_in_flight.labels(runner.name).inc(change)
        if change > 0:
            runner.requests += 1
            self.metrics.runner_requests.labels(runner.name).inc()
        else:
            self._hand_over(runner)

    # -- the fair queue -----------------------------------------------------------------

    def queued(self) -> int:
        return sum(len(waiters) for waiters in self._waiting.values())

    def queued_for(self, runner: Runner) -> int:
        """Requests waiting that this runner could serve."""
        return self._ahead(frozenset({runner.name}))

    def _ahead(self, names: frozenset[str]) -> int:
        """Requests waiting that one of the runners ``names`` could serve."""
        return sum(bool(names & w.runners) for ws in self._waiting.values() for w in ws)

    def waits_ahead(self, model: str) -> int:
        """How many would wait before a request for ``model`` now (0: it runs at once);
        raises :class:`QueueFull` when it could not even wait."""
        choices = self.candidates(model)
        ahead = self._ahead(frozenset(r.name for r in choices))
        if not ahead and any(r.in_flight < r.slots for r in choices):
            return 0
        self._check_room()
        return ahead + 1

    def _check_room(self) -> None:
        if self.queued() >= self.policy.max_queue:
            raise QueueFull(
                f"every runner slot is taken and {self.queued()} requests are waiting: "
                "try again shortly"
            )

    async def _acquire(self, choices: list[Runner]) -> Runner:
        """A slot on one of ``choices``: at once when one is free and nobody waits for
        them, else a turn in the fair queue."""
        names = frozenset(r.name for r in choices)
        free = [r for r in choices if r.in_flight < r.slots]
        if free and not self._ahead(names):
            runner = self.pick(free)
            self._count_in(runner, 1)
            return runner
        self._check_room()
        waiter = Waiter(names, asyncio.get_running_loop().create_future())
        caller = CALLER.get()
        self._waiting.setdefault(caller, deque()).append(waiter)
        self.metrics.queue_depth.inc()
        began = time.perf_counter()
        try:
            async with asyncio.timeout(self.policy.queue_timeout_s):
                # shielded: a request leaving never cancels the turn it may just be given
                return await asyncio.shield(waiter.turn)
        except BaseException as exc:
            if waiter.turn.done():  # given a slot as it left: the slot goes on
                self._count_in(waiter.turn.result(), -1)
            else:
                self._leave(caller, waiter)
            if isinstance(exc, TimeoutError):
                raise QueueTimeout(
                    f"no runner slot came free within {self.policy.queue_timeout_s:g} s: "
                    "the runners are busy, try again later"
                ) from None
            raise
        finally:
            self.metrics.queue_wait.observe(time.perf_counter() - began)

    def _leave(self, caller: str, waiter: Waiter) -> None:
        waiters = self._waiting.get(caller)
        if waiters and waiter in waiters:
            waiters.remove(waiter)
            self.metrics.queue_depth.dec()
            if not waiters:
                del self._waiting[caller]

    def _hand_over(self, runner: Runner) -> None:
        """A slot of ``runner`` came free: it goes to the first waiter it can serve, in
        the callers' turns; that caller's turn goes to the back."""
        if runner.in_flight >= runner.slots:
            return
        for caller, waiters in self._waiting.items():
            waiter = next(
                (w for w in waiters if runner.name in w.runners and not w.turn.done()), None
            )
            if waiter is None:
                continue
            self._leave(caller, waiter)
            if caller in self._waiting:
                self._waiting.move_to_end(caller)
            self._count_in(runner, 1)
            waiter.turn.set_result(runner)
            return

    def chat_stream(
        self, model: str, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        return self._route(model, lambda b: b.chat_stream(model, messages, options))

    def complete_stream(
        self, model: str, prompt: str, suffix: str | None, options: Mapping[str, Any]
    ) -> AsyncIterator[ChatChunk]:
        return self._route(model, lambda b: b.complete_stream(model, prompt, suffix, options))

    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        """Embedded by a runner of ``model``, with a chat's turn in the fair queue, its
        retries and its health checks (the whole answer is its one "token")."""
        answers: list[Embeddings] = []

        async def ask(backend: RunnerBackend) -> AsyncIterator[ChatChunk]:
            answers.append(await backend.embed(model, texts))
            yield ChatChunk(done=True)

        async for _chunk in self._route(model, ask):
            pass
        return answers[-1]

    # -- context ------------------------------------------------------------------------

    async def context_window(self, model: str) -> ContextWindow:
        """The smallest window among the runners that list ``model`` (a request may go to
        any of them); else the window of the runner that would be asked."""
        asked = [r for r in self.runners if r.has(model)] or self.candidates(model)[:1]
        results = await asyncio.gather(
            *(r.backend.context_window(model) for r in asked), return_exceptions=True
        )
        windows = [w for w in results if isinstance(w, ContextWindow)]
        if not windows:
            failure = next(r for r in results if isinstance(r, BaseException))
            raise failure
        smallest = min(windows, key=lambda w: w.tokens)
        trained = [w.trained for w in windows if w.trained]
        return ContextWindow(smallest.tokens, min(trained) if trained else None)

    async def count_tokens(self, model: str, texts: Sequence[str]) -> list[int] | None:
        """Counted by the runner that would be asked."""
        return await self.pick(self.candidates(model)).backend.count_tokens(model, texts)

    # -- models -------------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        """The union of the models of the runners that answer (each name once); raises
        when none does."""
        asked = [r for r in self.runners if r.state != "down"] or self.runners
        results = await asyncio.gather(
            *(r.backend.list_models() for r in asked), return_exceptions=True
        )
        union: dict[str, ModelInfo] = {}
        errors: list[str] = []
        for runner, result in zip(asked, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, BackendError):
                    raise result
                errors.append(str(result))
                continue
            runner.models = frozenset(m.name for m in result)
            for model in result:
                union.setdefault(model.name, model)
        if errors and not union and len(errors) == len(asked):
            raise BackendError("; ".join(errors))
        return list(union.values())

    def _only(self, what: str) -> RunnerBackend:
        if len(self.runners) == 1:
            return self.runners[0].backend
        raise Unsupported(
            f"the pool has {len(self.runners)} runners: {what} on the runner itself; the pool "
            "lists its models at the next check"
        )

    def _holder(self, name: str) -> RunnerBackend:
        if len(self.runners) == 1:
            return self.runners[0].backend
        holders = [r for r in self.runners if r.has(name)]
        if not holders:
            raise ModelNotFound(f"no runner of the pool has the model {name!r}")
        return holders[0].backend

    async def loaded(self) -> list[LoadedModel]:
        if len(self.runners) == 1:
            return await self.runners[0].backend.loaded()
        found: list[LoadedModel] = []
        for runner in self.runners:
            with contextlib.suppress(BackendError):  # out, or cannot say: not counted
                found += await runner.backend.loaded()
        return found

    async def show(self, name: str) -> dict[str, Any]:
        return await self._holder(name).show(name)

    def pull(self, name: str) -> AsyncGenerator[dict[str, Any], None]:
        return self._only("pull models").pull(name)

    async def delete(self, name: str) -> None:
        await self._holder(name).delete(name)

    async def unload(self, name: str) -> None:
        await self._holder(name).unload(name)

    def import_file(self, path: str, name: str | None) -> AsyncGenerator[dict[str, Any], None]:
        return self._only("import models").import_file(path, name)

    async def aclose(self) -> None:
        if self._checks is not None:
            self._checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checks
        for runner in self.runners:
            await runner.backend.aclose()
