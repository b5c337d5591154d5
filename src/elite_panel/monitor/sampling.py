"""The sampling loop: collect, keep history, evaluate alerts, tell whoever listens.

The supervisor daemon runs one while the stack is up; the panel runs its own when no
daemon answers.  Each tick produces one message for listeners::

    {"sample": Sample.to_json(), "flat": flatten(sample), "alerts": [...], "fired": [...]}

Ticks are scheduled on a fixed grid (``start + k * interval``), so a slow tick does not
shift every later one, and a tick that overruns skips the missed slots instead of bunching.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from elite_panel.core.services import ServiceStatus
from elite_panel.monitor.alerts import AlertEvaluator, AlertThresholds
from elite_panel.monitor.collector import Collector
from elite_panel.monitor.history import History
from elite_panel.monitor.sample import Sample, flatten

log = logging.getLogger(__name__)


class SamplingLoop:
    """The sampling loop: collect, keep history, evaluate alerts, tell listeners.

    Args:
        collector: takes the samples.
        statuses: returns the services to sample now.
        interval_s: seconds between ticks.
        thresholds: alert thresholds.
        history: a history to continue (the panel's copy of the daemon's, when it goes away).

    Attributes:
        history: every tick's numbers (see :class:`History`).
        alerts: the evaluator, whose ``active`` list is the alerts firing now.
    """

    def __init__(
        self,
        collector: Collector,
        statuses: Callable[[], Sequence[ServiceStatus]],
        interval_s: float = 1.0,
        thresholds: AlertThresholds | None = None,
        history: History | None = None,
    ) -> None:
        self.collector = collector
        self.statuses = statuses
        self.interval_s = interval_s
        self.history = history or History(interval_s)
        self.alerts = AlertEvaluator(thresholds)
        self.latest: Sample | None = None  # what the Prometheus exporter serves
        self._watchers: set[asyncio.Queue[dict[str, Any]]] = set()

    def configure(self, interval_s: float, thresholds: AlertThresholds) -> None:
        """New settings (after a profile change); the history is kept unless the interval
        changes, which resizes its full-resolution tier."""
        if interval_s != self.interval_s:
            self.interval_s = interval_s
            self.history = History(interval_s)
        self.alerts.thresholds = thresholds

    async def tick(self) -> dict[str, Any]:
        sample = self.latest = await self.collector.sample(self.statuses())
        flat = flatten(sample)
        self.history.add(sample.time, flat)
        changes = self.alerts.update(sample)
        for alert in changes.fired:
            log.warning("alert %s: %s", alert.rule, alert.message)
        for alert in changes.cleared:
            log.info("alert %s cleared: %s", alert.rule, alert.subject)
        message = {
            "sample": sample.to_json(),
            "flat": flat,
            "alerts": [a.to_json() for a in self.alerts.active],
            "fired": [a.to_json() for a in changes.fired],
        }
        for queue in self._watchers:
            queue.put_nowait(message)
        return message

    async def run(self, active: Callable[[], bool] = lambda: True) -> None:
        """Tick on a fixed grid while ``active()``; returns when it turns false."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        slot = 0
        while active():
            try:
                await self.tick()
            except Exception:  # one bad tick (a vanished process...) must not end sampling
                log.exception("sampling failed")
            slot = max(slot + 1, int((loop.time() - start) / self.interval_s) + 1)
            await asyncio.sleep(max(start + slot * self.interval_s - loop.time(), 0))

    def watch(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=0)
        self._watchers.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._watchers.discard(queue)


def thresholds_from(settings: Any) -> AlertThresholds:
    """The profile's ``dashboard`` section (pydantic) → :class:`AlertThresholds`."""
    return AlertThresholds(
        **{name: getattr(settings, name) for name in AlertThresholds.__dataclass_fields__}
    )


def history_messages(history: History) -> list[dict[str, Any]]:
    """The history as control-channel messages small enough for one line each: per tier
    its times, then one message per series."""
    messages: list[dict[str, Any]] = []
    for tier in ("fine", "coarse"):
        data = getattr(history, tier).to_json()
        messages.append({"history": tier, "interval_s": history.interval_s, "times": data["times"]})
        messages += [
            {"history": tier, "series": name, "values": values}
            for name, values in data["series"].items()
        ]
    return messages


def history_from_messages(messages: Sequence[dict[str, Any]]) -> History:
    data: dict[str, Any] = {}
    for message in messages:
        tier = data.setdefault(message["history"], {"times": [], "series": {}})
        if "times" in message:
            tier["times"] = message["times"]
            data["interval_s"] = message.get("interval_s", 1.0)
        else:
            tier["series"][message["series"]] = message["values"]
    return History.from_json(data)
