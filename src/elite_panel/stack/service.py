"""Supervision of one service: start, readiness, health, crash restarts with backoff, stop.

State machine::

    stopped → starting → ready ⇄ unhealthy
                 │          │
                 │          └─ exits → crashed → backoff → starting ...
                 └─ exits before its first readiness, or never ready → failed
    (more than ``max_crashes`` crashes within ``window_s`` → failed)
    any → stopping → stopped

A crash is noticed when the process exits (an awaited event, not a poll); readiness and
liveness are HTTP checks of the service's health URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from elite_panel.core.errors import StackError
from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.stack import containers, processes
from elite_panel.stack.processes import ProcessHandle
from elite_panel.stack.service_log import ServiceLog
from elite_panel.stack.specs import ServiceSpec

log = logging.getLogger(__name__)

READY_POLL_S = 0.1
ERROR_TAIL_LINES = 20


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff after crashes, and when to give up."""

    initial_delay_s: float = 1.0
    max_delay_s: float = 30.0
    window_s: float = 60.0
    max_crashes: int = 5
    liveness_interval_s: float = 5.0  # between health checks of a ready service
    liveness_failures: int = 3  # failed checks in a row: unhealthy; twice as many: restarted

    def delay(self, recent_crashes: int) -> float:
        return float(min(self.initial_delay_s * 2 ** max(recent_crashes - 1, 0), self.max_delay_s))


class _StartFailed(Exception):
    """The process exited or never became ready during its first start."""


class Service:
    """Runs one :class:`ServiceSpec` and keeps it running.

    Args:
        spec: what to run.
        service_log: where its output goes.
        http: the shared client for health checks.
        on_change: called after every state or pid change (the supervisor broadcasts it).
        policy: restart policy.
    """

    def __init__(
        self,
        spec: ServiceSpec,
        service_log: ServiceLog,
        http: httpx.AsyncClient,
        on_change: Callable[[Service], None],
        policy: RestartPolicy | None = None,
    ) -> None:
        self.spec = spec
        self.log = service_log
        self._http = http
        self._on_change = on_change
        self.policy = policy or RestartPolicy()
        self.state = ServiceState.STOPPED
        self.handle: ProcessHandle | None = None
        self.restarts = 0
        self.last_error: str | None = None
        self._ready_since: float | None = None
        self._crashes: deque[float] = deque()
        self._task: asyncio.Task[None] | None = None
        self._next_change: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pump: asyncio.Task[None] | None = None
        self.log.set_secrets(spec.secrets)

    # -- public API -------------------------------------------------------------------

    def status(self) -> ServiceStatus:
        uptime = None
        if self._ready_since is not None and self.state in (
            ServiceState.READY,
            ServiceState.UNHEALTHY,
        ):
            uptime = round(time.monotonic() - self._ready_since, 1)
        return ServiceStatus(
            name=self.spec.name,
            state=self.state,
            kind=self.spec.kind,
            pid=self.handle.pid if self.handle else None,
            url=self.spec.url,
            restarts=self.restarts,
            uptime_s=uptime,
            last_error=self.last_error,
        )

    def start(self, adopted: ProcessHandle | None = None) -> None:
        """Begin supervising (spawning, or watching ``adopted``); returns at once."""
        if self._task and not self._task.done():
            return
        self.last_error = None
        self.restarts = 0
        self._crashes.clear()
        self._set(ServiceState.STARTING)
        self._task = asyncio.create_task(self._run(adopted), name=f"service:{self.spec.name}")

    async def wait_settled(self) -> ServiceState:
        """Wait until the service is ready, failed or stopped (not on its way somewhere)."""
        settled = (ServiceState.READY, ServiceState.FAILED, ServiceState.STOPPED)
        while self.state not in settled:
            await asyncio.shield(self._next_change)
        return self.state

    async def stop(self) -> None:
        """Stop supervising and end the process group (SIGTERM, grace, SIGKILL)."""
        task, self._task = self._task, None
        if self.state is not ServiceState.STOPPED:
            self._set(ServiceState.STOPPING)  # at once: a waiting `up` sees the stop
        if task and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.handle is not None:
            await processes.end(self.handle)
            self.handle = None
        self._ready_since = None
        self._set(ServiceState.STOPPED)

    def error_with_tail(self) -> str:
        tail = "\n".join(self.log.tail(ERROR_TAIL_LINES))
        return f"{self.last_error}\n--- last lines of {self.spec.name} ---\n{tail}"

    # -- supervision loop -------------------------------------------------------------

    async def _run(self, adopted: ProcessHandle | None) -> None:
        first_start = True
        try:
            while True:
                try:
                    exit_reason = await self._bring_up(adopted)
                except _StartFailed as exc:
                    await self._fail(str(exc))
                    return
                adopted = None
                if exit_reason is None:
                    first_start = False
                    exit_reason = await self._watch()  # returns only when the process exits
                elif first_start:
                    await self._fail(exit_reason)
                    return
                self._record_crash(exit_reason)
                if len(self._crashes) > self.policy.max_crashes:
                    await self._fail(
                        f"{exit_reason}; {len(self._crashes)} crashes within "
                        f"{self.policy.window_s:.0f} s, giving up"
                    )
                    return
                delay = self.policy.delay(len(self._crashes))
                self._set(ServiceState.BACKOFF)
                log.info("%s: restarting in %.1f s", self.spec.name, delay)
                await asyncio.sleep(delay)
                self.restarts += 1
        except Exception as exc:  # a bug must not leave the service silently unsupervised
            log.exception("%s: supervision failed", self.spec.name)
            await self._fail(f"supervision error: {exc}")

    async def _bring_up(self, adopted: ProcessHandle | None) -> str | None:
        """Start (or adopt) and wait for readiness: ``None`` when ready, else why it exited.

        Raises:
            _StartFailed: not ready within the spec's start timeout.
        """
        if self.state is not ServiceState.STARTING:
            self._set(ServiceState.STARTING)
        if adopted is not None:
            self.handle = adopted
        elif self.spec.managed:
            if self.spec.container is not None:
                try:
                    self.handle = await containers.start(self.spec.container, self.log.write)
                except StackError as exc:
                    raise _StartFailed(str(exc)) from exc
            else:
                assert self.spec.argv is not None
                self.handle = await processes.spawn(self.spec.argv, self.spec.env)
            assert self.handle.stdout is not None
            self._pump = asyncio.create_task(
                self.log.pump(self.handle.stdout), name=f"pump:{self.spec.name}"
            )
            self._on_change(self)
        deadline = time.monotonic() + self.spec.start_timeout_s
        exited = asyncio.ensure_future(self.handle.wait()) if self.handle else None
        try:
            while not await self._healthy():
                if exited is not None and exited.done():
                    self.handle = None
                    return _exit_reason(exited.result(), during_start=True)
                if time.monotonic() > deadline:
                    raise _StartFailed(
                        f"not ready after {self.spec.start_timeout_s:.0f} s "
                        f"({self.spec.health_url} did not answer)"
                    )
                await asyncio.sleep(READY_POLL_S)
        finally:
            if exited is not None and not exited.done():
                exited.cancel()
        self._ready_since = time.monotonic()
        self._set(ServiceState.READY)
        return None

    async def _watch(self) -> str:
        """Until the process exits: periodic liveness checks. Returns the exit reason.

        A service that stops answering turns ``unhealthy`` after ``liveness_failures``
        checks in a row; if it still does not answer after as many more (hung, or stopped
        with SIGSTOP), a managed one is ended and restarted like a crash.
        """
        interval, limit = self.policy.liveness_interval_s, self.policy.liveness_failures
        failures = 0
        exited = asyncio.ensure_future(self.handle.wait()) if self.handle else None
        try:
            while True:
                if exited is not None:
                    done, _ = await asyncio.wait({exited}, timeout=interval)
                    if done:
                        self.handle = None
                        self._ready_since = None
                        return _exit_reason(exited.result(), during_start=False)
                else:
                    await asyncio.sleep(interval)
                if await self._healthy():
                    failures = 0
                    if self.state is ServiceState.UNHEALTHY:
                        self.last_error = None
                        self._set(ServiceState.READY)
                    continue
                failures += 1
                if failures >= limit and self.state is ServiceState.READY:
                    self.last_error = f"{self.spec.health_url} stopped answering"
                    self._set(ServiceState.UNHEALTHY)
                if failures >= 2 * limit and self.handle is not None and self.spec.managed:
                    await processes.end(self.handle, grace_s=2.0)  # SIGKILL ends a stopped one
                    self.handle = None
                    self._ready_since = None
                    return f"did not answer {self.spec.health_url} for {failures} checks: restarted"
        finally:
            if exited is not None and not exited.done():
                exited.cancel()

    async def _healthy(self) -> bool:
        try:
            response = await self._http.get(self.spec.health_url, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.is_success

    def _record_crash(self, reason: str) -> None:
        now = time.monotonic()
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > self.policy.window_s:
            self._crashes.popleft()
        self.last_error = reason
        log.warning("%s: %s", self.spec.name, reason)
        self._set(ServiceState.CRASHED)

    async def _fail(self, reason: str) -> None:
        self.last_error = reason
        if self.handle is not None:
            await processes.end(self.handle)
            self.handle = None
        self._ready_since = None
        log.error("%s failed: %s", self.spec.name, reason)
        self._set(ServiceState.FAILED)

    def _set(self, state: ServiceState) -> None:
        self.state = state
        self._on_change(self)
        changed, self._next_change = self._next_change, asyncio.get_running_loop().create_future()
        changed.set_result(None)


def _exit_reason(code: int | None, during_start: bool) -> str:
    when = "during start" if during_start else "unexpectedly"
    if code is None:
        return f"exited {when}"
    if code < 0:
        return f"killed by signal {-code} {when}"
    return f"exited with code {code} {when}"
