"""Alert rules, evaluated on every sample; each fires once and clears itself.

The first four are the deployment guide's Prometheus rules (same names, thresholds and
durations): HighCPUUsage, HighMemoryUsage, ApplicationDown, HighResponseTime.  The GPU
rules are ours: GpuTemperatureHigh, VramAlmostFull and ModelSpilledToCpu (a loaded model
not fully in VRAM, which fires at once: it does not fix itself).

A condition must hold for the rule's duration before the alert fires ("pending" until then,
as in Prometheus); it clears as soon as the condition stops.  The clock is injected so tests
can run five minutes in a millisecond.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from elite_panel.core.services import ServiceState
from elite_panel.monitor.sample import Sample

# Service states that count as "down": not the ones a user chose (stopped, stopping).
DOWN_STATES = frozenset(
    {
        ServiceState.STARTING,
        ServiceState.UNHEALTHY,
        ServiceState.CRASHED,
        ServiceState.BACKOFF,
        ServiceState.FAILED,
    }
)


@dataclass(frozen=True)
class AlertThresholds:
    """The profile's ``[dashboard]`` thresholds (defaults: the deployment guide's)."""

    cpu_percent: float = 80.0
    memory_percent: float = 85.0
    sustained_s: float = 300.0
    service_down_s: float = 60.0
    latency_p95_s: float = 2.0
    gpu_temperature_c: float = 85.0
    vram_percent: float = 95.0
    gpu_for_s: float = 60.0


@dataclass(frozen=True)
class Alert:
    """One firing alert: ``rule`` plus the ``subject`` it is about (a GPU, a service...)."""

    rule: str
    subject: str
    message: str
    since: float  # Unix time the condition started

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "message": self.message,
            "since": self.since,
        }


Check = Callable[[Sample, AlertThresholds], list[tuple[str, str]]]


@dataclass(frozen=True)
class AlertRule:
    """One alert rule: its name, condition and how long it must hold."""

    name: str
    duration: Callable[[AlertThresholds], float]
    check: Check  # (subject, message) for each thing over its threshold now


def _cpu(s: Sample, t: AlertThresholds) -> list[tuple[str, str]]:
    v = s.host.cpu_percent
    return [("host", f"CPU at {v:.0f} % (over {t.cpu_percent:.0f} %)")] if v > t.cpu_percent else []


def _memory(s: Sample, t: AlertThresholds) -> list[tuple[str, str]]:
    v = s.host.memory_percent
    if v <= t.memory_percent:
        return []
    return [("host", f"memory at {v:.0f} % (over {t.memory_percent:.0f} %)")]


def _down(s: Sample, t: AlertThresholds) -> list[tuple[str, str]]:
    del t
    return [
        (name, f"{name} is {state}") for name, state in s.states.items() if state in DOWN_STATES
    ]


def _latency(s: Sample, t: AlertThresholds) -> list[tuple[str, str]]:
    p95 = s.server.latency_p95_s if s.server else None
    if p95 is None or p95 <= t.latency_p95_s:
        return []
    return [("assistant", f"p95 latency {p95:.2f} s (over {t.latency_p95_s:g} s)")]


def _gpu_hot(s: Sample, t: AlertThresholds) -> list[tuple[str, str]]:
    return [
        (f"gpu{g.index}", f"{g.name} at {g.temperature_c:.0f} °C (over {t.gpu_temperature_c:.0f})")
        for g in s.gpus
        if g.temperature_c is not None and g.temperature_c > t.gpu_temperature_c
    ]


def _vram(s: Sample, t: AlertThresholds) -> list[tuple[str, str]]:
    out = []
    for g in s.gpus:
        used = g.memory_percent
        if used is not None and used > t.vram_percent:
            out.append((f"gpu{g.index}", f"{g.name} VRAM {used:.0f} % full"))
    return out


def _spilled(s: Sample, t: AlertThresholds) -> list[tuple[str, str]]:
    del t
    out = []
    for m in s.models:
        share = m.gpu_fraction
        if share is not None and share < 1.0:
            out.append((m.name, f"{m.name}: only {share * 100:.0f} % in VRAM, the rest on the CPU"))
    return out


RULES = (
    AlertRule("HighCPUUsage", lambda t: t.sustained_s, _cpu),
    AlertRule("HighMemoryUsage", lambda t: t.sustained_s, _memory),
    AlertRule("ApplicationDown", lambda t: t.service_down_s, _down),
    AlertRule("HighResponseTime", lambda t: t.sustained_s, _latency),
    AlertRule("GpuTemperatureHigh", lambda t: t.gpu_for_s, _gpu_hot),
    AlertRule("VramAlmostFull", lambda t: t.gpu_for_s, _vram),
    AlertRule("ModelSpilledToCpu", lambda t: 0.0, _spilled),
)


@dataclass
class AlertChanges:
    """The alerts that began and ended at one evaluation."""

    fired: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)


class AlertEvaluator:
    """Tracks pending and firing alerts across samples."""

    def __init__(
        self,
        thresholds: AlertThresholds | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.thresholds = thresholds or AlertThresholds()
        self._clock = clock
        self._pending: dict[str, float] = {}  # key → when the condition started
        self._firing: dict[str, Alert] = {}

    @property
    def active(self) -> list[Alert]:
        return sorted(self._firing.values(), key=lambda a: a.since)

    def update(self, sample: Sample) -> AlertChanges:
        now = self._clock()
        changes = AlertChanges()
        holding: set[str] = set()
        for rule in RULES:
            for subject, message in rule.check(sample, self.thresholds):
                key = f"{rule.name}:{subject}"
                holding.add(key)
                since = self._pending.setdefault(key, now)
                if key in self._firing:
                    continue
                if now - since >= rule.duration(self.thresholds):
                    alert = Alert(rule.name, subject, message, since)
                    self._firing[key] = alert
                    changes.fired.append(alert)
        for key in list(self._pending):
            if key not in holding:
                del self._pending[key]
                if key in self._firing:
                    changes.cleared.append(self._firing.pop(key))
        return changes
