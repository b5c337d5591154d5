"""The stack as the panel sees it: live service states, actions, and log streams."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, Signal

from elite_panel import __version__
from elite_panel.adapters.profile_service import ProfileService
from elite_panel.adapters.tasks import TaskGroup
from elite_panel.core.errors import DaemonUnavailable, EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.core.services import ServiceStatus, stopped_statuses
from elite_panel.stack.control import ControlClient, ensure_daemon, version_note

log = logging.getLogger(__name__)

RECONNECT_INTERVAL_S = 1.0


class StackAdapter(QObject):
    """Follows the supervisor and runs stack actions for the UI.

    Signals:
        statusChanged(list[ServiceStatus]): every state change the supervisor reports.
        connectedChanged(bool): whether a supervisor is reachable.
        busyChanged(str, bool): an action (``stack`` or a service name) started/finished.
        actionFailed(str, str, str): the action's target, a message for the user and the
            error's code (:attr:`EliteError.code`: what callers decide by).
        logLine(str, str): a service name and one line of its output.
        logReset(str): a new log stream of the service starts (with its history).
        notice(str): something the user should know (a supervisor of another version).
    """

    statusChanged = Signal(object)
    connectedChanged = Signal(bool)
    busyChanged = Signal(str, bool)
    actionFailed = Signal(str, str, str)
    logLine = Signal(str, str)
    logReset = Signal(str)
    notice = Signal(str)

    def __init__(
        self,
        paths: AppPaths,
        profile: ProfileService,
        client: ControlClient,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths = paths
        self.profile = profile
        self.statuses: list[ServiceStatus] = stopped_statuses()
        self.last_failure: tuple[str, str] | None = None  # for a Stack page built later
        self.actionFailed.connect(
            lambda target, message, _code: self._keep_failure((target, message))
        )
        self.connected = False
        self.remote_url = ""  # a remote profile's server: nothing to run here
        self._tasks = TaskGroup("stack")
        self.client = client

    # -- lifecycle ----------------------------------------------------------------------

    def start_watching(self) -> None:
        if not self.remote_url:
            self._tasks.start("watch", self._watch_forever())

    def set_remote(self, url: str) -> None:
        """A remote profile (``url``) is the active one: the local supervisor is neither
        followed nor started (it is left as it is); ``""``: the local stack again."""
        self.remote_url = url
        if url:
            self._tasks.cancel("watch")
            self._set_connected(False)
            self._publish(stopped_statuses())
        else:
            self.start_watching()

    def close(self) -> None:
        self._tasks.cancel_all()

    # -- actions (called by the UI) ------------------------------------------------------

    def start_stack(self) -> None:
        self._run_action("stack", "up")

    def stop_stack(self) -> None:
        self._run_action("stack", "down")

    def restart_stack(self) -> None:
        self._run_action("stack", "restart")

    def configure(self) -> None:
        """Hand the running supervisor the profile's new values (alert thresholds...)."""
        self._run_action("stack", "configure")

    def start_service(self, name: str) -> None:
        self._run_action(name, "start", service=name)

    def stop_service(self, name: str) -> None:
        self._run_action(name, "stop", service=name)

    def restart_service(self, name: str) -> None:
        self._run_action(name, "restart", service=name)

    async def stop_stack_and_wait(self) -> None:
        """For Quit with ``stack.stop_on_quit``: stop everything, errors only logged."""
        try:
            await self.client.call("down")
        except DaemonUnavailable:
            pass
        except EliteError as exc:
            log.error("stopping the stack on quit failed: %s", exc)

    def follow_logs(self, service: str, lines: int = 500) -> None:
        self._tasks.start(f"logs:{service}", self._follow(service, lines))

    # -- internals ----------------------------------------------------------------------

    def _run_action(self, target: str, cmd: str, **args: object) -> None:
        # A stop is never swallowed by a start still waiting for its answer.
        key = f"action:{target}:{'stop' if cmd in ('down', 'stop') else 'start'}"
        if self.remote_url:
            self.notice.emit(
                f"This profile uses the team server {self.remote_url}: nothing runs on this "
                "machine to start or stop (it is managed where it runs)."
            )
            return
        if self._tasks.running(key):
            return
        self._tasks.start(key, self._action(target, cmd, args))

    async def _action(self, target: str, cmd: str, args: dict[str, object]) -> None:
        self.busyChanged.emit(target, True)
        self._keep_failure(None)  # a new attempt: the last failure is history
        try:
            if cmd == "down":
                client = self.client
            else:
                profile = await self.profile.load()
                args["profile"] = profile.model_dump(mode="json")
                client = await ensure_daemon(self.paths, say=self.notice.emit)
                self.start_watching()
            await client.call(cmd, **args)
        except DaemonUnavailable:
            if cmd != "down":
                self.actionFailed.emit(
                    target, "the supervisor is not running", DaemonUnavailable.code
                )
        except EliteError as exc:
            self.actionFailed.emit(target, str(exc), exc.code)
        finally:
            self.busyChanged.emit(target, False)

    def _keep_failure(self, failure: tuple[str, str] | None) -> None:
        self.last_failure = failure

    async def _watch_forever(self) -> None:
        while True:
            try:
                async for statuses in self.client.watch():
                    if not self.connected:
                        self._tasks.start("version", self._check_version())
                    self._set_connected(True)
                    self._publish(statuses)
            except DaemonUnavailable:
                pass
            except EliteError as exc:
                log.warning("watching the stack failed: %s", exc)
            if self.connected:
                self._set_connected(False)
                self._publish(stopped_statuses())
            await asyncio.sleep(RECONNECT_INTERVAL_S)

    async def _follow(self, service: str, lines: int) -> None:
        while True:
            try:
                stream = self.client.stream("logs", service=service, lines=lines, follow=True)
                first = True
                async for message in stream:
                    if first:
                        self.logReset.emit(service)
                        first = False
                    self.logLine.emit(service, str(message["line"]))
            except DaemonUnavailable:
                pass
            except EliteError as exc:
                log.debug("log stream of %s: %s", service, exc)
            await asyncio.sleep(RECONNECT_INTERVAL_S)

    async def _check_version(self) -> None:
        """A supervisor of another version (an upgrade installed while the stack ran) is
        said once per connection: Start replaces it."""
        try:
            running = await self.client.version()
        except EliteError:
            return
        if running != __version__:
            self.notice.emit(version_note(running))

    def _set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self.connectedChanged.emit(connected)

    def _publish(self, statuses: list[ServiceStatus]) -> None:
        self.statuses = statuses
        self.statusChanged.emit(statuses)
