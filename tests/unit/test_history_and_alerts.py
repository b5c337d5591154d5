"""History ring buffers and the alert rules, with a fake clock."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from elite_panel.monitor.alerts import AlertEvaluator, AlertThresholds
from elite_panel.monitor.history import COARSE_STEP_S, History
from elite_panel.monitor.host import HostSample
from elite_panel.monitor.nvml import GpuReader
from elite_panel.monitor.runner_models import LoadedModel
from elite_panel.monitor.sample import Sample, flatten
from elite_panel.monitor.sampling import history_from_messages, history_messages
from elite_panel.monitor.server_metrics import ServerSample
from tests.fakes.nvml_double import ReplayNvml

T0 = 1_700_000_000.0  # a multiple of 10: buckets start on it


def test_fine_tier_keeps_fifteen_minutes_at_full_resolution() -> None:
    history = History(interval_s=1.0)
    for i in range(2000):
        history.add(T0 + i, {"host.cpu": float(i)})
    times, series = history.window(60, now=T0 + 1999)
    assert len(times) == 61 and series["host.cpu"][-1] == 1999
    full, _ = history.window(15 * 60, now=T0 + 1999)
    assert len(full) == 900  # capacity: older samples were overwritten
    assert np.all(np.diff(full) > 0)  # oldest first across the wrap-around


def test_coarse_tier_holds_ten_second_means() -> None:
    history = History(interval_s=1.0)
    for i in range(3600):
        history.add(T0 + i, {"host.cpu": float(i % 10)})
    times, series = history.window(3600, now=T0 + 3599)
    means = series["host.cpu"][: len(times) - 10]
    assert np.allclose(means, 4.5)  # each bucket averaged 0..9
    assert np.all(np.diff(times) > 0)
    assert times[-1] == T0 + 3599  # the samples after the last mean are appended


def test_missing_values_are_gaps_and_new_series_appear() -> None:
    history = History()
    history.add(T0, {"host.cpu": 1.0})
    history.add(T0 + 1, {"host.cpu": 2.0, "gpu0.util": 50.0})
    history.add(T0 + 2, {"gpu0.util": 60.0})
    _, series = history.window(60, now=T0 + 2)
    assert math.isnan(series["gpu0.util"][0]) and series["gpu0.util"][2] == 60
    assert math.isnan(series["host.cpu"][2])


def test_round_trip_through_control_messages() -> None:
    history = History()
    for i in range(120):
        history.add(T0 + i, {"host.cpu": float(i), "host.memory": 50.0})
    copy = history_from_messages(history_messages(history))
    for window in (60, 3600):
        a_times, a = history.window(window, now=T0 + 119)
        b_times, b = copy.window(window, now=T0 + 119)
        assert np.array_equal(a_times, b_times)
        assert np.array_equal(a["host.cpu"], b["host.cpu"], equal_nan=True)
    copy.add(T0 + 120, {"host.cpu": 120.0})  # the copy keeps growing
    assert copy.window(60, now=T0 + 120)[1]["host.cpu"][-1] == 120


def test_a_day_of_history_has_a_fixed_size() -> None:
    history = History()
    names = [f"s{i}" for i in range(40)]
    for i in range(0, 24 * 3600, 7):  # sparse writes, same allocations
        history.add(T0 + i, dict.fromkeys(names, 1.0))
    assert history.nbytes == 41 * (900 + 24 * 3600 // int(COARSE_STEP_S)) * 8


# -- alerts ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def host(cpu: float = 10.0, memory: float = 40.0) -> HostSample:
    return HostSample(
        cpu, (cpu,), 0, 0, 0, memory, 1, 2, 0, 0, "/", 50, 1, 2, None, None, None, None
    )


def sample(**changes: object) -> Sample:
    base = Sample(time=T0, host=host())
    return replace(base, **changes)  # type: ignore[arg-type]


def run(evaluator: AlertEvaluator, clock: Clock, s: Sample, seconds: int) -> list[str]:
    fired = []
    for _ in range(seconds):
        clock.now += 1
        fired += [a.rule for a in evaluator.update(s).fired]
    return fired


def test_cpu_must_stay_high_for_five_minutes_and_fires_once() -> None:
    clock = Clock()
    evaluator = AlertEvaluator(AlertThresholds(), clock)
    hot = sample(host=host(cpu=90))
    assert run(evaluator, clock, hot, 299) == []  # pending
    assert run(evaluator, clock, hot, 600) == ["HighCPUUsage"]  # once, not every tick
    assert [a.rule for a in evaluator.active] == ["HighCPUUsage"]
    changes = evaluator.update(sample())
    assert [a.rule for a in changes.cleared] == ["HighCPUUsage"] and not evaluator.active


def test_a_dip_restarts_the_wait() -> None:
    clock = Clock()
    evaluator = AlertEvaluator(AlertThresholds(), clock)
    assert run(evaluator, clock, sample(host=host(memory=90)), 200) == []
    run(evaluator, clock, sample(), 1)
    assert run(evaluator, clock, sample(host=host(memory=90)), 200) == []


def test_memory_high_for_five_minutes_fires_and_clears() -> None:
    clock = Clock()
    evaluator = AlertEvaluator(AlertThresholds(), clock)
    full = sample(host=host(memory=86))  # the guide's rule: over 85 % for 5 minutes
    assert run(evaluator, clock, sample(host=host(memory=85)), 400) == []  # at the line: no
    assert run(evaluator, clock, full, 300) == []  # true for 299 s so far
    assert run(evaluator, clock, full, 1) == ["HighMemoryUsage"]  # ... and now for 300 s
    assert evaluator.active[0].message == "memory at 86 % (over 85 %)"
    assert [a.rule for a in evaluator.update(sample()).cleared] == ["HighMemoryUsage"]


def test_vram_almost_full_fires_per_gpu_after_its_duration() -> None:
    clock = Clock()
    evaluator = AlertEvaluator(AlertThresholds(vram_percent=3, gpu_for_s=60), clock)
    gpus = GpuReader(ReplayNvml()).sample().gpus  # recorded: 5.3 of 150.8 GB in use
    assert gpus and gpus[0].memory_percent is not None and gpus[0].memory_percent > 3
    s = sample(gpus=gpus)
    assert run(evaluator, clock, s, 60) == []
    assert run(evaluator, clock, s, 1) == ["VramAlmostFull"]
    alert = evaluator.active[0]
    assert alert.subject == "gpu0" and "VRAM 4 % full" in alert.message
    quiet = AlertEvaluator(AlertThresholds(gpu_for_s=0), clock)  # default 90 %: not full
    assert run(quiet, clock, s, 5) == []


def test_service_down_for_a_minute_but_not_when_stopped_by_the_user() -> None:
    clock = Clock()
    evaluator = AlertEvaluator(AlertThresholds(), clock)
    stopped = sample(states={"runner": "stopped", "assistant": "ready"})
    assert run(evaluator, clock, stopped, 120) == []
    crashed = sample(states={"runner": "backoff", "assistant": "ready"})
    assert run(evaluator, clock, crashed, 61) == ["ApplicationDown"]
    assert evaluator.active[0].subject == "runner"


def test_gpu_and_model_rules_with_custom_thresholds() -> None:
    clock = Clock()
    evaluator = AlertEvaluator(AlertThresholds(gpu_temperature_c=60, gpu_for_s=10), clock)
    gpus = GpuReader(ReplayNvml()).sample().gpus  # recorded at 62 °C
    spilled = LoadedModel("mistral:latest", size_bytes=100, vram_bytes=60)
    s = sample(gpus=gpus, models=(spilled,))
    assert run(evaluator, clock, s, 1) == ["ModelSpilledToCpu"]  # at once
    assert run(evaluator, clock, s, 10) == ["GpuTemperatureHigh"]
    messages = {a.rule: a.message for a in evaluator.active}
    assert "60 % in VRAM" in messages["ModelSpilledToCpu"]


def test_latency_rule_uses_the_server_p95() -> None:
    clock = Clock()
    evaluator = AlertEvaluator(AlertThresholds(sustained_s=0), clock)
    slow = ServerSample(1.0, 2.5, 10.0, 0.1, 0, True)
    assert run(evaluator, clock, sample(server=slow), 1) == ["HighResponseTime"]


@pytest.mark.parametrize("with_gpu", [True, False])
def test_flatten_names(with_gpu: bool) -> None:
    reading = GpuReader(ReplayNvml() if with_gpu else ReplayNvml(init_error=12)).sample()
    flat = flatten(sample(gpus=reading.gpus))
    assert flat["host.cpu"] == 10.0
    if with_gpu:
        assert flat["gpu0.vram"] == 5_328_732_160
        assert flat["gpu0.vram.other"] == 5_328_732_160  # no process of ours on it
    else:
        assert not any(name.startswith("gpu") for name in flat)
