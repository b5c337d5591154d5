"""The control socket of the supervisor daemon: commands, status, logs and metrics streams.

The socket is 0600 in a 0700 folder and peers of another user are refused. The daemon
lives while it supervises something: it exits after ``stack down``, or when nothing is
active for :data:`IDLE_EXIT_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIServer

import elite_panel
from elite_panel.backup.upgrade_guard import before_start
from elite_panel.core.errors import EliteError
from elite_panel.core.kinds import RunnerKind
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import Profile
from elite_panel.monitor.sampling import SamplingLoop, history_messages, thresholds_from
from elite_panel.stack.protocol import encode, read_message
from elite_panel.stack.supervisor import Supervisor

log = logging.getLogger("elite_panel.daemon")
T = TypeVar("T")

IDLE_EXIT_S = 15.0


class ControlServer:
    """Serves one :class:`Supervisor` over the control socket."""

    def __init__(self, supervisor: Supervisor, paths: AppPaths, sampling: SamplingLoop) -> None:
        self.supervisor = supervisor
        self.paths = paths
        self.sampling = sampling
        self.stopped = asyncio.Event()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._exporter: tuple[str, WSGIServer] | None = None  # (listen, server)
        supervisor.on_idle = self._on_idle

    async def sample_while_up(self) -> None:
        """Start the sampling loop whenever the stack becomes active; it ends by itself
        when nothing is active any more."""
        changes = self.supervisor.watch()
        try:
            while True:
                await changes.get()
                running = self._sampler is not None and not self._sampler.done()
                if self.supervisor.active and not running:
                    if self.supervisor.profile is not None:
                        self._configure_sampling(self.supervisor.profile)
                    self._sampler = asyncio.create_task(
                        self.sampling.run(lambda: self.supervisor.active), name="sampling"
                    )
        finally:
            self.supervisor.unwatch(changes)
            if self._sampler is not None:
                self._sampler.cancel()

    def _configure_sampling(self, profile: Profile) -> None:
        dashboard = profile.dashboard
        self.sampling.configure(dashboard.sample_interval_s, thresholds_from(dashboard))
        self._configure_exporter(dashboard.exporter_listen)

    def _configure_exporter(self, listen: str) -> None:
        """Serve the samples to Prometheus on ``listen`` (the profile's switch), or stop."""
        if self._exporter is not None and self._exporter[0] == listen:
            return
        self.stop_exporter()
        if not listen:
            return
        from elite_panel.monitor import exporter  # only when switched on: not at rest

        try:
            self._exporter = (listen, exporter.serve(listen, lambda: self.sampling.latest))
        except (OSError, ValueError) as exc:  # a taken port must not stop the supervisor
            log.warning("metrics exporter not started on %s: %s", listen, exc)
        else:
            log.info("metrics exporter on http://%s/metrics", listen)

    def stop_exporter(self) -> None:
        if self._exporter is not None:
            self._exporter[1].shutdown()
            self._exporter[1].server_close()
            self._exporter = None

    async def serve(self) -> None:
        path = self.paths.control_socket
        path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(self._on_client, path=str(path))
        path.chmod(0o600)
        log.info("supervisor %d listening on %s", os.getpid(), path)
        self._arm_idle_timer()
        async with server:
            await self.stopped.wait()
        path.unlink(missing_ok=True)

    def _on_idle(self) -> None:
        self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        if self._idle_timer:
            self._idle_timer.cancel()
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(IDLE_EXIT_S, self._exit_if_idle)

    def _exit_if_idle(self) -> None:
        if not self.supervisor.active:
            log.info("nothing to supervise: exiting")
            self.stopped.set()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not _same_user(writer):
                writer.write(encode({"ok": False, "error": "permission denied"}))
                return
            request = await read_message(reader)
            if request is None:
                return
            await self._dispatch(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # the daemon is stopping: end the connection quietly
            return
        except ValueError as exc:
            writer.write(encode({"ok": False, "error": f"bad request: {exc}"}))
        finally:
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()

    async def _dispatch(
        self, request: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        cmd = request.get("cmd")
        sup = self.supervisor
        reply: dict[str, Any] = {"ok": True}
        try:
            if cmd == "status":
                pass
            elif cmd == "watch":
                await self._stream_status(reader, writer)
                return
            elif cmd == "logs":
                await self._stream_logs(request, reader, writer)
                return
            elif cmd == "metrics":
                await self._stream_metrics(reader, writer)
                return
            elif cmd == "up":
                runner = request.get("runner")
                profile = _profile(request)
                await before_start(self.paths, profile)  # a backup before an upgrade's start
                await sup.up(profile, RunnerKind(runner) if runner else None)
            elif cmd == "down":
                await sup.down()
                asyncio.get_running_loop().call_soon(self.stopped.set)
            elif cmd == "start":
                await sup.start_service(str(request.get("service")), _profile(request))
            elif cmd == "stop":
                await sup.stop_service(str(request.get("service")))
            elif cmd == "restart":
                await sup.restart(request.get("service"), _profile(request))
            elif cmd == "configure":  # applied changes that need no restart (alerts...)
                if sup.profile is not None:
                    sup.profile = _profile(request)
                    self._configure_sampling(sup.profile)
            else:
                raise EliteError(f"unknown command {cmd!r}")
        except EliteError as exc:
            reply = {"ok": False, "error": sup.redactor(str(exc)), "code": exc.code}
        except ValueError as exc:
            reply = {"ok": False, "error": f"bad request: {exc}"}
        reply.update(
            services=sup.snapshot(),
            runner_kind=sup.runner_kind,
            pid=os.getpid(),
            version=elite_panel.__version__,  # (read each time: the upgrade test sets it)
        )
        writer.write(encode(reply))

    async def _stream_status(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        queue = self.supervisor.watch()
        try:
            await _forward(
                queue, reader, writer, lambda services: {"ok": True, "services": services}
            )
        finally:
            self.supervisor.unwatch(queue)

    async def _stream_metrics(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """The history (in pieces that fit a line), then every new sample."""
        queue = self.sampling.watch()  # before the history: no sample falls in between
        try:
            for message in history_messages(self.sampling.history):
                writer.write(encode(message))
                await writer.drain()
            writer.write(encode({"history_end": True}))
            await _forward(queue, reader, writer, lambda message: message)
        finally:
            self.sampling.unwatch(queue)

    async def _stream_logs(
        self, request: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        service_log = self.supervisor.service_log(str(request.get("service")))
        lines = int(request.get("lines", 100))
        queue = service_log.follow() if request.get("follow") else None
        try:
            for line in service_log.tail(lines):
                writer.write(encode({"line": line}))
            await writer.drain()
            if queue is not None:
                await _forward(queue, reader, writer, lambda line: {"line": line})
        finally:
            if queue is not None:
                service_log.unfollow(queue)


async def _forward(
    queue: asyncio.Queue[T],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    message: Callable[[T], dict[str, Any]],
) -> None:
    """Send each queued item to the client until it closes its end."""
    closed = asyncio.ensure_future(reader.read())
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                getter.cancel()
                return
            writer.write(encode(message(getter.result())))
            await writer.drain()
    finally:
        closed.cancel()


def _profile(request: dict[str, Any]) -> Profile:
    return Profile.model_validate(request.get("profile") or {})


def _same_user(writer: asyncio.StreamWriter) -> bool:
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return True  # the 0600 socket in a 0700 folder already limits access
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())
