"""The supervisor: owns the stack's services, starts them together, adopts, broadcasts.

Qt-free and transport-free: the daemon (:mod:`elite_panel.daemon`) exposes it over
the control socket; tests can drive it directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import os
from collections.abc import Callable
from typing import Any

import httpx

from elite_panel.core import redaction
from elite_panel.core.errors import StackError
from elite_panel.core.kinds import RunnerKind
from elite_panel.core.launch import module_argv
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import Profile
from elite_panel.core.services import SERVICE_NAMES, ServiceState, ServiceStatus
from elite_panel.core.stack_token import read_token, write_token
from elite_panel.stack import embedding_model, processes, runners
from elite_panel.stack.service import RestartPolicy, Service
from elite_panel.stack.service_log import ServiceLog, rotate
from elite_panel.stack.specs import ServiceSpec
from elite_panel.stack.state_file import RecordedProcess, StackRecord, read_state, write_state

log = logging.getLogger(__name__)
SECRETS_TIMEOUT_S = 30.0  # an unlock prompt may be answered meanwhile


class Supervisor:
    """Runs the ``runner`` and ``assistant`` services of one stack.

    Args:
        paths: where logs, state and the token file live.
        policy: restart policy for both services.

    Attributes:
        services: the current services by name (empty until the first start).
        on_idle: called when no service is active any more after a command.
    """

    def __init__(self, paths: AppPaths, policy: RestartPolicy | None = None) -> None:
        self.paths = paths
        self.policy = policy or RestartPolicy()
        self.services: dict[str, Service] = {}
        self.runner_kind: str | None = None
        self.profile: Profile | None = None
        self._http = httpx.AsyncClient(trust_env=False)
        self._watchers: set[asyncio.Queue[list[dict[str, Any]]]] = set()
        self._lock = asyncio.Lock()
        self.logs = {name: ServiceLog(name, paths.logs) for name in SERVICE_NAMES}
        self.on_idle: Callable[[], None] = lambda: None
        self.redactor = redaction.known  # holds the secrets handed to the services

    # -- observation ------------------------------------------------------------------

    def statuses(self) -> list[ServiceStatus]:
        out = []
        for name in SERVICE_NAMES:
            service = self.services.get(name)
            out.append(
                service.status()
                if service
                else ServiceStatus(name=name, state=ServiceState.STOPPED, kind="")
            )
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        return [status.to_json() for status in self.statuses()]

    def watch(self) -> asyncio.Queue[list[dict[str, Any]]]:
        queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        queue.put_nowait(self.snapshot())
        self._watchers.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[list[dict[str, Any]]]) -> None:
        self._watchers.discard(queue)

    def service_log(self, name: str) -> ServiceLog:
        _check_name(name)
        return self.logs[name]

    def service(self, name: str) -> Service:
        _check_name(name)
        service = self.services.get(name)
        if service is None:
            raise StackError(f"{name} has not been started yet: run `elite-panel stack up`")
        return service

    @property
    def active(self) -> bool:
        return any(s.state.is_active for s in self.services.values())

    # -- commands ---------------------------------------------------------------------

    async def up(self, profile: Profile, runner: RunnerKind | None = None) -> None:
        """Start what is not running and wait until every service is ready.

        Raises:
            StackError: a port is taken (nothing started), a service failed to start (what
                this call started is stopped again; the message carries its last log
                lines), or a ``down`` stopped the stack meanwhile.
        """
        async with self._lock:
            if self.active:
                if runner and runner.value != self.runner_kind:
                    raise StackError(
                        f"the stack runs with the {self.runner_kind} runner: "
                        "run `elite-panel stack down` first to switch"
                    )
            else:
                await self._build(profile, runner)
            services = list(self.services.values())
            to_start = [s for s in services if not s.state.is_active]
            _check_ports([s.spec for s in to_start])
            for service in to_start:
                service.start()
        # Waiting happens outside the lock, so that a `down` can stop a slow start.
        await asyncio.gather(*(s.wait_settled() for s in services))
        stopping = (ServiceState.STOPPING, ServiceState.STOPPED)
        if any(s.state in stopping for s in services):  # only a stop request does that
            raise StackError("the stack was stopped while it was starting")
        failed = [s for s in services if s.state is not ServiceState.READY]
        if failed:
            message = "\n".join(f"{s.spec.name}: {s.error_with_tail()}" for s in failed)
            async with self._lock:
                # Undo only what this call started: a running service is left alone.
                await asyncio.gather(*(s.stop() for s in to_start))
                self._after_command()
            raise StackError(f"the stack did not start:\n{message}")

    async def down(self) -> None:
        async with self._lock:
            await self._stop_all()

    async def start_service(self, name: str, profile: Profile) -> None:
        async with self._lock:
            if not self.services:
                await self._build(profile, None)
            elif not self.service(name).state.is_active:
                # Built again from the profile: applied changes and the runner's models
                # folder (an imported GGUF) take effect.
                kind = RunnerKind(self.runner_kind or profile.runner.kind)
                await self._build(profile, kind, read_token(self.paths), only=name)
            service = self.service(name)
            if service.state.is_active:
                return
            _check_ports([service.spec])
            service.start()
            await service.wait_settled()
            if service.state is not ServiceState.READY:
                raise StackError(f"{name}: {service.error_with_tail()}")

    async def stop_service(self, name: str) -> None:
        async with self._lock:
            await self.service(name).stop()
            self._after_command()

    async def restart(self, name: str | None, profile: Profile) -> None:
        names = [name] if name else list(SERVICE_NAMES)
        for service_name in names:
            if service_name in self.services:
                await self.stop_service(service_name)
        if name is None and not self.active:
            await self.up(profile)
            return
        for service_name in names:
            await self.start_service(service_name, profile)

    async def adopt_recorded(self) -> None:
        """Adopt the services a previous supervisor left that still answer; end the rest."""
        record = read_state(self.paths.state_file)
        if record is None or not record.services:
            return
        adopted: dict[str, processes.ProcessHandle] = {}
        for name, proc in record.services.items():
            handle = processes.adopt(proc.pid, proc.create_time)
            if handle and await self._answers(name, proc):
                adopted[name] = handle
                continue
            killed = await processes.kill_group_leftovers(proc.pid, proc.create_time)
            log.info("cleaned up %d leftover process(es) of %s", killed, name)
        token = read_token(self.paths)
        if "assistant" in adopted and token is None:
            log.warning("the assistant's token file is gone: stopping the old assistant")
            await processes.terminate_group(adopted.pop("assistant"))
        if adopted and record.profile:
            try:
                profile = Profile.model_validate(record.profile)
                kind = RunnerKind(record.runner_kind or "builtin")
                await self._build(profile, kind, token=token)
            except Exception as exc:
                log.warning("cannot adopt the recorded stack (%s): stopping it", exc)
                for handle in adopted.values():
                    await processes.terminate_group(handle)
                adopted = {}
        for name, handle in adopted.items():
            log.info("adopting %s (pid %d)", name, handle.pid)
            self.services[name].start(adopted=handle)
        self._write_state()

    async def close(self) -> None:
        await self._stop_all()
        await self._http.aclose()
        for service_log in self.logs.values():
            service_log.close()

    # -- internals --------------------------------------------------------------------

    async def _build(
        self,
        profile: Profile,
        runner: RunnerKind | None,
        token: str | None = None,
        only: str | None = None,
    ) -> None:
        """The services of ``profile`` (or only the one named ``only``, the other kept)."""
        kind = runner or profile.runner.kind
        if kind is RunnerKind.AUTO:
            kind = await asyncio.to_thread(runners.resolve_runner_kind, profile)
        embedding = None
        if kind is RunnerKind.BUILTIN:  # (converted on the first start: a second or two)
            try:
                embedding = await asyncio.to_thread(embedding_model.prepare, self.paths.embedding)
            except StackError as exc:  # the chat goes on without embeddings
                log.warning("%s", exc)
        runner_spec, endpoint = runners.runner_spec(
            profile, kind, str(self.paths.data), self.paths.models, embedding
        )
        if token is None:
            token = runners.new_token()
            write_token(self.paths, token)
        assistant = runners.assistant_spec(profile, endpoint, self.paths, token)
        secret_env = await self._secrets()
        if only is None:
            self.services = {}
        for spec in (runner_spec, assistant):
            if only in (None, spec.name):
                self.services[spec.name] = Service(
                    runners.with_secrets(spec, secret_env.get(spec.name, {})),
                    self.logs[spec.name],
                    self._http,
                    self._changed,
                    self.policy,
                )
        self.profile = profile
        self.runner_kind = kind.value
        self.rotate_logs(profile.logging.max_mb, profile.logging.keep)

    def rotate_logs(self, max_mb: int, keep: int) -> None:
        """The profile's log rotation, for each service's log and this process's own
        (``supervisor.log``, the daemon's rotating handler)."""
        for service_log in self.logs.values():
            service_log.rotate(max_mb, keep)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.handlers.RotatingFileHandler):
                rotate(handler, max_mb, keep)

    async def _secrets(self) -> dict[str, dict[str, str]]:
        """Each service's secrets, read now by a child process (the keyring may prompt or
        hang, and its libraries would stay in this long-lived process); the values are
        redacted from this process's own log from here on."""
        argv = module_argv("elite_panel.core.secret_store")
        env: dict[str, dict[str, str]] = {}
        try:
            code, out, _err = await processes.run_child(argv, SECRETS_TIMEOUT_S)
            if code == 0:
                answer = json.loads(out)
                env, problem = answer["env"], answer["problem"]
            else:  # not its output: a traceback there could hold a value never redacted
                problem = f"reading them failed (the helper exited with code {code})"
        except TimeoutError:
            problem = f"the OS keyring did not answer within {SECRETS_TIMEOUT_S:.0f} s"
        except (OSError, ValueError, KeyError) as exc:
            problem = f"reading them failed: {exc}"
        redaction.known.add(v for values in env.values() for v in values.values())
        if problem:
            log.warning("secrets come only from the environment: %s", problem)
        return env

    async def _stop_all(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.services.values()))
        self.paths.token_file.unlink(missing_ok=True)
        self._after_command()

    def _after_command(self) -> None:
        self._write_state()
        if not self.active:
            self.on_idle()

    async def _answers(self, name: str, proc: RecordedProcess) -> bool:
        path = "/health" if name == "assistant" else "/"
        try:
            response = await self._http.get(f"http://127.0.0.1:{proc.port}{path}", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    def _changed(self, service: Service) -> None:
        del service
        self._write_state()
        snapshot = self.snapshot()
        for queue in self._watchers:
            queue.put_nowait(snapshot)

    def _write_state(self) -> None:
        running = {
            name: RecordedProcess(s.handle.pid, s.handle.create_time, s.spec.port, s.spec.kind)
            for name, s in self.services.items()
            if s.handle is not None
        }
        if not running:
            self.paths.state_file.unlink(missing_ok=True)
            return
        record = StackRecord(
            daemon_pid=os.getpid(),
            runner_kind=self.runner_kind,
            profile=self.profile.model_dump(mode="json") if self.profile else {},
            services=running,
        )
        try:
            write_state(self.paths.state_file, record)
        except OSError as exc:  # a full disk must not stop supervision
            log.error("cannot write %s: %s", self.paths.state_file, exc)


def _check_name(name: str) -> None:
    if name not in SERVICE_NAMES:
        raise StackError(f"unknown service {name!r}: use one of {', '.join(SERVICE_NAMES)}")


def _check_ports(specs: list[ServiceSpec]) -> None:
    taken = [
        f"port {spec.port} ({spec.name}) is in use by {processes.port_holder(spec.port)}"
        for spec in specs
        # A container of ours may already hold its port (it is adopted); the engine
        # refuses a port someone else holds, with its own message.
        if spec.managed and spec.container is None and not processes.port_is_free(spec.port)
    ]
    if taken:
        raise StackError("; ".join(taken) + "; nothing was started")
