"""The Dashboard page offscreen: an hour of history loaded, then live samples from the
panel's own sampling (no supervisor) with the NVML double replaying a recorded H200."""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from elite_panel.adapters.monitor_adapter import MonitorAdapter
from elite_panel.adapters.profile_service import ProfileService
from elite_panel.app import Panel
from elite_panel.core.paths import AppPaths
from elite_panel.monitor.collector import Collector
from elite_panel.monitor.history import History
from elite_panel.monitor.nvml import GpuReader
from elite_panel.stack.control import ControlClient
from elite_panel.ui.pages.dashboard_page import DashboardPage
from tests.conftest import Home
from tests.fakes.nvml_double import ReplayNvml


def hour_of_history(now: float) -> History:
    history = History()
    for i in range(3600):
        t = now - 3600 + i
        history.add(
            t,
            {
                "host.cpu": 20 + 10 * np.sin(i / 60),
                "host.memory": 40.0,
                "svc.runner.cpu": 50.0,
                "svc.runner.rss": 1e9,
            },
        )
    return history


@pytest.fixture
def panel(qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home) -> Iterator[Panel]:
    monitor_home = AppPaths.from_env()

    def collector(data: Path) -> Collector:
        return Collector(data, gpu=GpuReader(ReplayNvml()))

    monitor = MonitorAdapter(
        monitor_home,
        ProfileService(monitor_home, "default"),
        ControlClient(monitor_home),
        collector_factory=collector,
    )
    built = Panel(monitor_home, "default", use_tray=False, monitor=monitor)
    built.window.resize(1280, 720)
    qtbot.addWidget(built.window)
    yield built
    built.close()


@pytest.mark.gui
def test_history_then_live_samples(
    qtbot: QtBot, panel: Panel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELITE_DASHBOARD__GPU_TEMPERATURE_C", "50")  # recorded GPU: 62 °C
    monkeypatch.setenv("ELITE_DASHBOARD__GPU_FOR_S", "0")
    page = panel.window.page("dashboard")
    assert isinstance(page, DashboardPage)
    panel.monitor.load_history(hour_of_history(time.time()))
    fired: list[dict[str, object]] = []
    panel.monitor.alertFired.connect(fired.append)
    panel.show("dashboard")
    assert page.plots, "graphs are built when the page is first shown"
    cpu = page.plots["cpu"].curves["host.cpu"]
    assert 890 <= len(cpu.getData()[0]) <= 900  # the last 15 minutes, every second
    # Live samples from the panel's own sampling: host, and the GPU through the double.
    qtbot.waitUntil(lambda: "gpu0.util" in page.plots["gpu_util"].curves, timeout=15_000)
    assert page.glance["GPU"].text() == "GPU\n100 %"
    assert page.glance["VRAM"].text() == "VRAM\n5.3 GB / 150.8 GB"
    assert page.glance["GPU °C"].text() == "GPU °C\n62 °C"
    assert page.source.text() == "sampled by the panel"
    assert page.gpu_reason.isHidden()
    assert all(not page.plots[key].isHidden() for key in ("gpu_util", "vram", "gpu_heat"))
    # The alert fires once and is listed.
    qtbot.waitUntil(lambda: bool(fired), timeout=10_000)
    assert fired[0]["rule"] == "GpuTemperatureHigh"
    assert "GpuTemperatureHigh" in page.alert_list.item(0).text()
    # 24 h shows the 10 s means plus the newest samples.
    page.set_window(86400)
    xs = page.plots["cpu"].curves["host.cpu"].xData  # what was given, before downsampling
    assert 360 <= len(xs) < 900
    # Pause freezes the graphs while samples keep arriving.
    qtbot.keyClick(page, Qt.Key.Key_Space)
    assert page.paused and page.pause_button.text() == "Resume"
    frozen = len(page.plots["gpu_util"].curves["gpu0.util"].getData()[0])
    with qtbot.waitSignal(panel.monitor.sampleArrived, timeout=10_000):
        pass
    assert len(page.plots["gpu_util"].curves["gpu0.util"].getData()[0]) == frozen
    page.set_paused(False)
    # Export the visible window and the page.
    page.set_window(60)
    page.export_csv(tmp_path / "window.csv")
    rows = list(csv.reader((tmp_path / "window.csv").open(encoding="utf-8")))
    assert rows[0][:3] == ["time_utc", "unix_time", "gpu0.power"]
    assert 2 <= len(rows) <= 62
    page.save_png(tmp_path / "page.png")
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The hover read-out names the values under the mouse.
    history = panel.monitor.history
    assert history is not None
    times, series = history.window(60, time.time())
    expected = f"CPU (%): host {series['host.cpu'][-1]:.1f} %"
    assert page.plots["cpu"].readout(times[-1]).endswith(expected)


@pytest.mark.gui
def test_without_a_gpu_the_reason_is_shown(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home
) -> None:
    paths = AppPaths.from_env()
    no_driver = GpuReader(ReplayNvml(init_error=12))
    monitor = MonitorAdapter(
        paths,
        ProfileService(paths, "default"),
        ControlClient(paths),
        collector_factory=lambda d: Collector(d, no_driver),
    )
    page = DashboardPage(monitor)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: not page.gpu_reason.isHidden(), timeout=15_000)
    assert "no NVIDIA driver is installed" in page.gpu_reason.text.text()
    assert page.glance["GPU"].text() == "GPU\n-"
    for key in ("gpu_util", "vram", "gpu_heat"):  # no empty GPU graphs under the reason
        assert page.plots[key].isHidden()
    assert not page.plots["cpu"].isHidden() and not page.plots["traffic"].isHidden()
    monitor.close()


@pytest.mark.gui
def test_a_steady_series_is_drawn_at_its_height_from_zero(qtbot: QtBot) -> None:
    from elite_panel.ui.widgets.metric_plot import MetricPlot

    times = np.arange(100.0)
    vram = MetricPlot("VRAM", r"gpu0\.vram\..+", str, str, stacked=True)
    rss = MetricPlot("memory", r"svc\..+", str, str)
    cpu = MetricPlot("CPU (%)", r"host\.cpu", str, str, y_range=(0, 100))
    for plot in (vram, rss, cpu):
        qtbot.addWidget(plot)
    vram.show_window(
        times, {"gpu0.vram.ollama": np.full(100, 8e9), "gpu0.vram.other": np.full(100, 4e9)}
    )
    rss.show_window(
        times, {"svc.runner.rss": np.full(100, 1e9), "svc.server.rss": np.full(100, np.nan)}
    )
    cpu.show_window(times, {"host.cpu": np.full(100, 30.0)})
    for plot, top in ((vram, 12e9), (rss, 1e9), (cpu, 100)):
        low, high = plot.getPlotItem().vb.viewRange()[1]
        assert low <= 0 < top <= high <= 1.2 * top, (plot.title, low, high)
