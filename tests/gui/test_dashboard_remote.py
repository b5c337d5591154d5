"""The Dashboard of a remote profile: the cluster from a real Prometheus (the shipped rules,
our exporter with the NVML double's GPU, the server), 24 h of history at once from a
database that has it, Prometheus's firing alerts; without Prometheus, the runners and a
note saying what adding one gives."""

from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.monitor import exporter
from elite_panel.ui.pages.dashboard_page import DashboardPage
from elite_panel.ui.widgets.lazy_page import LazyPage
from tests.conftest import Home
from tests.deploy.conftest import server_url  # noqa: F401 (fixture)
from tests.deploy.prometheus_run import running_prometheus
from tests.deploy.test_monitoring import a_sample, need
from tests.fakes.ollama_double import free_port

pytestmark = pytest.mark.gui
OLD_TEMP = 41.0  # the GPU's temperature in the day-old history
HOT = 90.0  # now: above GpuTemperatureHigh's 85 °C


def day_of_history(instance: str, now: float) -> str:
    """OpenMetrics text: the GPU host's temperature and CPU every 5 min from 24 h to 3 h ago."""
    times = range(int(now - 86_000), int(now - 3 * 3600), 300)
    labels = f'gpu="0",instance="{instance}",job="elite-gpu-host"'
    lines = ["# TYPE DCGM_FI_DEV_GPU_TEMP gauge"]
    lines += [f"DCGM_FI_DEV_GPU_TEMP{{{labels}}} {OLD_TEMP} {t}" for t in times]
    lines += ["# TYPE cpu_usage_percent gauge"]
    lines += [
        f'cpu_usage_percent{{instance="{instance}",job="elite-gpu-host"}} 12 {t}' for t in times
    ]
    return "\n".join([*lines, "# EOF", ""])


def alert_at_once(rules: dict[str, Any]) -> None:
    """GpuTemperatureHigh without its minute of waiting (the test's time is short)."""
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "GpuTemperatureHigh":
                rule["for"] = "0s"


def remote_profile(home: Home, url: str, prometheus: str = "") -> None:
    profiles = home.root / "config" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "team.toml").write_text(
        f'[stack]\nmode = "remote"\n\n[remote]\nurl = "{url}"\nprometheus_url = "{prometheus}"\n'
    )


def dashboard(panel: Panel) -> DashboardPage:
    panel.window.show_page("dashboard")
    lazy = panel.window.pages["dashboard"]
    assert isinstance(lazy, LazyPage)
    page = lazy.build()
    assert isinstance(page, DashboardPage)
    return page


def test_the_cluster_from_prometheus_with_a_day_of_history(
    qtbot: QtBot,
    home: Home,
    panel: Panel,
    server_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    binary = need("prometheus")
    with ThreadPoolExecutor(1) as thread:  # (its own event loop, beside the panel's)
        sample = thread.submit(a_sample).result()
    hot = dataclasses.replace(sample.gpus[0], temperature_c=HOT)
    sample = dataclasses.replace(sample, gpus=[hot, *sample.gpus[1:]])
    listen = f"127.0.0.1:{free_port()}"
    metrics_server = exporter.serve(listen, lambda: sample)
    now = time.time()
    try:
        with running_prometheus(
            binary,
            tmp_path,
            server_url.removeprefix("http://"),
            listen,
            history=day_of_history(listen, now),
            rules=alert_at_once,
        ) as prometheus:
            remote_profile(home, server_url, prometheus)
            monkeypatch.setenv("ASSISTANT_API_KEY", "any key: the server has no token")
            page = dashboard(panel)
            panel.show("dashboard")
            panel.profile.use("team")
            temp = f"gpu0@{listen}.temp"

            def day_shown() -> bool:
                history = panel.monitor.history
                if history is None or panel.monitor.source != "prometheus":
                    return False
                times, series = history.window(86_400, time.time())
                values = series.get(temp)
                return values is not None and any(
                    v == OLD_TEMP and t < now - 20 * 3600
                    for t, v in zip(times, values, strict=True)
                )

            qtbot.waitUntil(day_shown, timeout=30_000)  # at once, not sampled since
            qtbot.waitUntil(lambda: page.glance["GPU °C"].text().endswith("90 °C"), timeout=15_000)
            assert page.source.text() == "the cluster, from Prometheus"
            # The server's requests (the panel's own polls), summed over its replicas.
            qtbot.waitUntil(lambda: page.glance["Req/s"].text() != "Req/s\n-", timeout=20_000)
            assert {"cpu", "gpu_util", "gpu_heat", "traffic", "latency", "runners"} <= set(
                page.plots
            )
            assert not page.plots["gpu_heat"].isHidden() and page.gpu_reason.isHidden()
            qtbot.waitUntil(
                lambda: "GpuTemperatureHigh" in page.alert_list.item(0).text(), timeout=20_000
            )
            _times, series = panel.monitor.history.window(600, time.time())  # type: ignore[union-attr]
            assert any(not math.isnan(v) for v in series[f"host.cpu@{listen}"])
    finally:
        metrics_server.shutdown()
        metrics_server.server_close()


def test_without_prometheus_the_runners_and_what_adding_one_gives(
    qtbot: QtBot,
    home: Home,
    panel: Panel,
    server_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remote_profile(home, server_url)
    monkeypatch.setenv("ASSISTANT_API_KEY", "any key: the server has no token")
    page = dashboard(panel)
    panel.show("dashboard")
    panel.profile.use("team")
    qtbot.waitUntil(lambda: panel.monitor.source == "server", timeout=10_000)
    assert "prometheus_url" in page.gpu_reason.text.text()  # what adding one gives
    assert set(page.plots) == {"runners"}

    def runner_series() -> bool:
        history = panel.monitor.history
        _times, series = history.window(60, time.time()) if history else (None, {})
        return any(name.startswith("runner.") for name in series)

    qtbot.waitUntil(runner_series, timeout=15_000)
    panel.profile.use("default")  # the local profile again: this machine's figures
    qtbot.waitUntil(lambda: panel.monitor.source in ("panel", "supervisor"), timeout=15_000)
    assert "gpu_heat" in page.plots or "cpu" in page.plots
