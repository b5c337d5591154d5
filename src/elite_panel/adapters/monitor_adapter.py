"""The dashboard's data for the panel: the supervisor's history and live samples, or the
panel's own sampling when no supervisor runs; for a remote profile, the cluster from its
Prometheus, or without one the server's runners as the Stack page polls them.

Alerts come with each sample; a newly fired one is emitted once (the tray shows it).
The monitor package (psutil, NVML, numpy) is imported when sampling starts, after the
window's first paint, so it costs the panel's start-up nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.profile_service import ProfileService
from elite_panel.adapters.remote_adapter import POLL_INTERVAL_S
from elite_panel.adapters.tasks import TaskGroup, off_the_window
from elite_panel.core.errors import ConfigError, DaemonUnavailable, EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.stack.control import ControlClient

if TYPE_CHECKING:
    from elite_panel.client.server_state import RemoteState
    from elite_panel.core.profiles import Profile
    from elite_panel.monitor.collector import Collector
    from elite_panel.monitor.history import History
    from elite_panel.monitor.sampling import SamplingLoop

log = logging.getLogger(__name__)

DAEMON_CHECK_EVERY = 3  # local ticks between checks for a supervisor that started


class MonitorAdapter(QObject):
    """The dashboard's Qt side of sampling: the supervisor's stream, or the panel's own.

    Signals:
    historyReset(History): a new history to draw (from the supervisor, or the panel's own).
    sampleArrived(dict, dict): the sample as JSON and its flat series (already in history).
    alertsChanged(list[dict]): the alerts firing now.
    alertFired(dict): an alert that just fired (once per firing).
    sourceChanged(str): who samples: ``supervisor``, ``panel``, ``prometheus`` or
        ``server`` (a remote profile without a Prometheus URL).
    figuresChanged(dict): the figures at a glance as text, for the remote sources.
    """

    historyReset = Signal(object)
    sampleArrived = Signal(object, object)
    alertsChanged = Signal(object)
    alertFired = Signal(object)
    sourceChanged = Signal(str)
    figuresChanged = Signal(object)

    def __init__(
        self,
        paths: AppPaths,
        profile: ProfileService,
        client: ControlClient,
        parent: QObject | None = None,
        collector_factory: Callable[[Path], Collector] | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths = paths
        self.profile = profile
        self.history: History | None = None
        self.latest: dict[str, Any] | None = None
        self.alerts: list[dict[str, Any]] = []
        self.source = ""
        self._client = client
        self._collector_factory = collector_factory
        self._local: SamplingLoop | None = None
        self.remote = False  # a remote profile: nothing sampled on this machine
        self.prometheus_url = ""
        self._tasks = TaskGroup("monitor")

    def start(self) -> None:
        if not self.remote and not self._tasks.running("monitor"):
            self._tasks.start("monitor", self._run())

    def follow_remote(self, profile: Profile) -> None:
        """A remote profile: the cluster from its Prometheus (without one, the runners'
        figures from :meth:`on_remote_state` only)."""
        self.remote = True
        self.prometheus_url = profile.remote.prometheus_url
        self._tasks.cancel("monitor")
        self.alerts = []
        self.alertsChanged.emit(self.alerts)
        if self.prometheus_url:
            self._tasks.start("monitor", self._follow_prometheus(profile))
        else:
            from elite_panel.monitor.history import History

            self.latest = None
            self.load_history(History(POLL_INTERVAL_S))
            self._set_source("server")

    def follow_local(self) -> None:
        """The local stack's figures again (a local profile is the active one)."""
        if self.remote:
            self.remote = False
            self._tasks.cancel("monitor")
            self.history = None
            self.start()

    def on_remote_state(self, state: RemoteState | None) -> None:
        """A look at the remote server (without Prometheus): its runners' requests in
        flight join the history."""
        if self.source != "server" or self.history is None or state is None:
            return
        if not state.runners:
            return
        now = time.time()
        flat = {f"runner.{r.name}.in_flight": float(r.in_flight) for r in state.runners}
        self.history.add(now, flat)
        self.latest = {"time": now}
        self.figuresChanged.emit({})

    def close(self) -> None:
        self._tasks.cancel_all()
        if self._local is not None:
            self._local.collector.gpu.close()

    def load_history(self, history: History) -> None:
        self.history = history
        self.historyReset.emit(history)

    def export_csv(self, path: Path, seconds: float, now: float) -> None:
        """Write the window ``[now - seconds, now]`` as CSV (see ``history.to_csv``)."""
        from elite_panel.monitor.history import to_csv

        if self.history is None:
            raise EliteError("no samples yet")
        times, series = self.history.window(seconds, now)
        path.write_text(to_csv(times, series), encoding="utf-8")

    # -- internals ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._follow_supervisor()
            except DaemonUnavailable:
                pass
            except EliteError as exc:
                log.warning("following the supervisor's metrics failed: %s", exc)
            await self._sample_locally()

    async def _follow_supervisor(self) -> None:
        history_from_messages = await off_the_window(_history_reader)
        pieces: list[dict[str, Any]] = []
        async for message in self._client.stream("metrics"):
            if "history" in message:
                pieces.append(message)
            elif message.get("history_end"):
                self.load_history(history_from_messages(pieces))
                pieces.clear()
                self._set_source("supervisor")
            elif "sample" in message and self.history is not None:
                self.history.add(message["sample"]["time"], message["flat"])
                self._deliver(message)

    async def _follow_prometheus(self, profile: Profile) -> None:
        """24 h of history at once, then the new points and the firing alerts every step."""
        from elite_panel.client.remote import tls_verify
        from elite_panel.monitor.prometheus import STEP_S, PrometheusFeed, glance

        self._set_source("prometheus")
        try:  # the certificate is checked as the server's is (the profile's CA file)
            feed = PrometheusFeed(self.prometheus_url, tls_verify(profile))
        except EliteError as exc:
            self.figuresChanged.emit({"error": str(exc)})
            return
        loaded = False
        try:
            while True:
                now = time.time()
                try:
                    if not loaded:
                        await feed.load(now)
                        self.load_history(feed.history)
                        loaded = True
                    else:
                        await feed.update(now)
                    alerts = await feed.alerts()
                except EliteError as exc:
                    self.figuresChanged.emit({"error": str(exc)})
                else:
                    self.latest = {"time": now}
                    self.figuresChanged.emit(glance(feed.latest))
                    if alerts != self.alerts:
                        self.alerts = alerts
                        self.alertsChanged.emit(alerts)
                await asyncio.sleep(STEP_S)
        finally:
            await feed.aclose()

    async def _sample_locally(self) -> None:
        """Sample here until a supervisor answers (checked every few ticks)."""
        loop = await self._local_loop()
        if self.history is not loop.history:
            self.load_history(loop.history)
        self._set_source("panel")
        ticks = 0
        while True:
            started = asyncio.get_running_loop().time()
            try:
                self._deliver(await loop.tick())
            except Exception:  # a bad tick must not stop the dashboard
                log.exception("sampling failed")
            ticks += 1
            if ticks % DAEMON_CHECK_EVERY == 0 and await self._client.is_running():
                return
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(loop.interval_s - elapsed, 0))

    async def _local_loop(self) -> SamplingLoop:
        Collector, SamplingLoop, thresholds_from = await off_the_window(_sampling_parts)
        interval, thresholds = 1.0, None
        try:
            profile = await self.profile.load()
            interval = profile.dashboard.sample_interval_s
            thresholds = thresholds_from(profile.dashboard)
        except ConfigError as exc:  # shown on the Stack page; sample with the defaults
            log.warning("%s; the dashboard uses its defaults", exc)
        if self._local is None:
            factory = self._collector_factory or Collector
            collector = await asyncio.to_thread(factory, self.paths.data)
            self._local = SamplingLoop(collector, list, interval, thresholds, self.history)
        else:
            self._local.history = self.history or self._local.history
        return self._local

    def _deliver(self, message: dict[str, Any]) -> None:
        self.latest = message["sample"]
        self.sampleArrived.emit(message["sample"], message["flat"])
        if message["alerts"] != self.alerts:
            self.alerts = message["alerts"]
            self.alertsChanged.emit(self.alerts)
        for alert in message["fired"]:
            self.alertFired.emit(alert)

    def _set_source(self, source: str) -> None:
        if source != self.source:
            self.source = source
            self.sourceChanged.emit(source)


def _history_reader() -> Callable[[list[dict[str, Any]]], History]:
    """How a supervisor's history messages become the dashboard's history (numpy)."""
    from elite_panel.monitor.sampling import history_from_messages

    return history_from_messages


def _sampling_parts() -> tuple[type[Collector], type[SamplingLoop], Callable[..., Any]]:
    """What sampling this machine takes (psutil, NVML, numpy)."""
    from elite_panel.monitor.collector import Collector
    from elite_panel.monitor.sampling import SamplingLoop, thresholds_from

    return Collector, SamplingLoop, thresholds_from
