"""The Dashboard page: numbers at a glance, graphs over a chosen window, and alerts.

pyqtgraph is imported when the page is first shown, so the panel's start-up does not pay
for it.  Graphs are redrawn at most once per sample and only while the page is visible and
not paused; the data stays in the adapter's numpy history either way.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.monitor_adapter import MonitorAdapter
from elite_panel.core.errors import EliteError
from elite_panel.monitor.report import figure, human_bytes
from elite_panel.ui.widgets.empty_state import EmptyState

if TYPE_CHECKING:
    from elite_panel.monitor.history import History
    from elite_panel.ui.widgets.metric_plot import MetricPlot

WINDOWS = {"1 min": 60.0, "15 min": 900.0, "1 h": 3600.0, "24 h": 86400.0}


def _percent(value: float) -> str:
    return f"{value:.1f} %"


def _plain(value: float) -> str:
    return f"{value:.3g}"


def _tail(name: str) -> str:
    """``svc.runner.cpu`` → ``runner``; ``gpu0.vram.other`` → ``other``; ``host.cpu`` → cpu."""
    parts = name.split(".")
    return parts[1] if parts[0] == "svc" else parts[-1] if len(parts) > 2 else name


# key, title, series pattern, legend label, value format, stacked
GRAPHS: tuple[tuple[str, str, str, Any, Any, bool], ...] = (
    ("cpu", "CPU (%)", r"host\.cpu", lambda n: "host", _percent, False),
    ("memory", "RAM (%)", r"host\.memory", lambda n: "host", _percent, False),
    (
        "gpu_util",
        "GPU utilisation (%)",
        r"gpu\d+\.util",
        lambda n: n.split(".")[0],
        _percent,
        False,
    ),
    ("vram", "VRAM by owner", r"gpu\d+\.vram\.[^.]+", _tail, human_bytes, True),
    ("gpu_heat", "GPU °C and W", r"gpu\d+\.(temp|power)", lambda n: n, _plain, False),
    ("svc_cpu", "Services: CPU (% of a core)", r"svc\.[^.]+\.cpu", _tail, _percent, False),
    ("svc_rss", "Services: memory", r"svc\.[^.]+\.rss", _tail, human_bytes, False),
    ("traffic", "Requests/s and tokens/s", r"server\.(rps|tps)", _tail, _plain, False),
)


def _at(name: str) -> str:
    """The host or GPU a cluster's series is of: ``host.cpu@H`` → ``H``;
    ``gpu0@H.util`` and ``gpu0@H.vram.used`` → ``gpu0@H``."""
    if name.startswith("host."):
        return name.split("@", 1)[1]
    for suffix in (".vram.used", ".util"):
        name = name.removesuffix(suffix)
    return name


# A team's cluster from Prometheus: one line per host, GPU and runner, the server's figures
# summed over its replicas.
CLUSTER_GRAPHS: tuple[tuple[str, str, str, Any, Any, bool], ...] = (
    ("cpu", "CPU (%) by host", r"host\.cpu@.+", _at, _percent, False),
    ("memory", "RAM (%) by host", r"host\.memory@.+", _at, _percent, False),
    ("gpu_util", "GPU utilisation (%)", r"gpu\d+@.+\.util", _at, _percent, False),
    ("vram", "VRAM used", r"gpu\d+@.+\.vram\.used", _at, human_bytes, False),
    ("gpu_heat", "GPU °C and W", r"gpu\d+@.+\.(temp|power)", lambda n: n, _plain, False),
    ("traffic", "Requests/s and tokens/s", r"server\.(rps|tps)", _tail, _plain, False),
    ("latency", "p95 (s): request, first token", r"server\.(p95|ttft)", _tail, _plain, False),
    (
        "runners",
        "Runners: requests in flight",
        r"runner\..+\.in_flight",
        lambda n: n[len("runner.") : -len(".in_flight")],
        _plain,
        False,
    ),
)
PERCENT_GRAPHS = frozenset({"cpu", "memory", "gpu_util"})
GPU_GRAPHS = frozenset({"gpu_util", "vram", "gpu_heat"})
SOURCES = {
    "supervisor": "sampled by the supervisor",
    "panel": "sampled by the panel",
    "prometheus": "the cluster, from Prometheus",
    "server": "the team server's runners",
}
REMOTE_NOTES = {
    "server": (
        "No Prometheus: the server's runners only",
        "Add the team's Prometheus ([remote] prometheus_url, on the Settings page) to see "
        "every host and GPU of the cluster, the server's requests, latency and tokens/s "
        "over 24 h, and Prometheus's alerts. Shown now: the server's runners.",
    ),
    "prometheus": (
        "No GPU in Prometheus",
        "Prometheus at {url} knows no GPU yet: run `elite-panel exporter` or NVIDIA's DCGM "
        "exporter on the GPU hosts and add them to its scrape targets.",
    ),
}


class DashboardPage(QWidget):
    """The Dashboard page: the figures at a glance, graphs over a window, alerts.

    Args:
    monitor: the adapter holding the history and delivering samples.
    """

    title = "Dashboard"

    def __init__(self, monitor: MonitorAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self.window_s = WINDOWS["15 min"]
        self.plots: dict[str, MetricPlot] = {}
        self.glance: dict[str, QLabel] = {}
        self.paused = False
        self.has_gpu = False  # the GPU graphs show once a sample has a GPU
        layout = QVBoxLayout(self)
        glance = QGridLayout()  # two rows of figures: they fit a small window
        keys = ("CPU", "RAM", "GPU", "VRAM", "GPU °C", "Power", "Req/s", "Tok/s", "p95")
        for index, key in enumerate(keys):
            label = QLabel(f"{key}\n-")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            # A fixed size: a changing number must not re-lay out (and repaint) the graphs.
            font = label.font()  # a font, not a style sheet: the label follows the theme
            font.setPixelSize(13)
            label.setFont(font)
            label.setContentsMargins(4, 2, 4, 2)
            label.ensurePolished()
            widest = "000.0 GB / 000.0 GB" if key == "VRAM" else "00000 ms"
            label.setFixedSize(label.fontMetrics().horizontalAdvance(widest) + 12, 40)
            self.glance[key] = label
            glance.addWidget(label, index // 5, index % 5)
        layout.addLayout(glance)
        # Without a GPU: one card with the reason, instead of its graphs.
        self.gpu_reason = EmptyState("No GPU figures", "")
        self.gpu_reason.setObjectName("gpuReason")
        self.gpu_reason.hide()
        layout.addWidget(self.gpu_reason)
        controls = QHBoxLayout()
        self.window_buttons = QButtonGroup(self)
        for text, seconds in WINDOWS.items():
            button = QPushButton(text)
            button.setCheckable(True)
            button.setChecked(seconds == self.window_s)
            button.clicked.connect(lambda _c=False, s=seconds: self.set_window(s))
            self.window_buttons.addButton(button)
            controls.addWidget(button)
        controls.addStretch(1)
        self.source = QLabel()
        controls.addWidget(self.source)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the graphs; sampling goes on (Space)")
        self.pause_button.toggled.connect(self.set_paused)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(self._on_export_csv)
        self.png_button = QPushButton("Save PNG…")
        self.png_button.clicked.connect(self._on_save_png)
        for button in (self.pause_button, self.csv_button, self.png_button):
            controls.addWidget(button)
        layout.addLayout(controls)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("dashboardSplitter")  # its sizes are kept between runs
        self.graphs = QWidget()
        self.grid = QGridLayout(self.graphs)
        # The graphs scroll when the window is too small to show them all.
        self.graph_area = QScrollArea()
        self.graph_area.setWidgetResizable(True)
        self.graph_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.graph_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.graph_area.setWidget(self.graphs)
        self.splitter.addWidget(self.graph_area)
        self.alert_list = QListWidget()
        self.alert_list.setAccessibleName("Alerts firing now")
        self.alert_list.addItem("No alerts")
        self.splitter.addWidget(self.alert_list)
        self.splitter.setStretchFactor(0, 1)  # the graphs take what the window gives
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([10_000, 110])  # about five alerts' height for the list
        layout.addWidget(self.splitter, 1)
        self.readout = QLabel(" ")
        self.readout.setObjectName("readout")
        layout.addWidget(self.readout)
        self.message = QLabel()
        layout.addWidget(self.message)
        QShortcut(
            QKeySequence(Qt.Key.Key_Space),
            self,
            self.pause_button.toggle,
            context=Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )
        monitor.historyReset.connect(self._on_history_reset)
        monitor.sampleArrived.connect(self._on_sample)
        monitor.alertsChanged.connect(self._on_alerts_changed)
        monitor.sourceChanged.connect(self._on_source_changed)
        monitor.figuresChanged.connect(self._on_figures)
        self.built_for = ""
        if monitor.source:
            self._on_source_changed(monitor.source)

    # -- public ---------------------------------------------------------------------------

    def set_window(self, seconds: float) -> None:
        self.window_s = seconds
        for button in self.window_buttons.buttons():
            button.setChecked(WINDOWS[button.text()] == seconds)
        self.redraw()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        if not paused:
            self.redraw()

    def redraw(self) -> None:
        history = self.monitor.history
        if not self.plots or history is None or self.paused:
            return
        now = self._now()
        times, series = history.window(self.window_s, now)
        for plot in self.plots.values():
            plot.show_window(times, series)
        # The other plots are X-linked to the first: one range change moves them all.
        next(iter(self.plots.values())).setXRange(now - self.window_s, now, padding=0)

    # -- internals ------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.plots:
            self._build_plots()
        self.monitor.start()
        self.redraw()

    def _graphs(self) -> tuple[tuple[str, str, str, Any, Any, bool], ...]:
        """The graphs of the current source: this machine's, a cluster's from Prometheus,
        or only the runners of a remote server without Prometheus."""
        source = self.monitor.source
        if source == "prometheus":
            return CLUSTER_GRAPHS
        if source == "server":
            return tuple(g for g in CLUSTER_GRAPHS if g[0] == "runners")
        return GRAPHS

    def _build_plots(self) -> None:
        from elite_panel.ui.widgets.metric_plot import MetricPlot

        for plot in self.plots.values():
            self.grid.removeWidget(plot)
            plot.deleteLater()
        self.plots.clear()
        self.built_for = self.monitor.source
        for key, title, pattern, label, fmt, stacked in self._graphs():
            fixed = (0.0, 100.0) if key in PERCENT_GRAPHS else None
            plot = MetricPlot(title, pattern, label, fmt, stacked, y_range=fixed)
            if fmt is human_bytes:
                plot.setLabel("left", units="B")  # SI prefixes on the axis
            plot.hovered.connect(self.readout.setText)
            if self.plots:
                plot.setXLink(next(iter(self.plots.values())))
            self.plots[key] = plot
        self._place_plots()

    def _place_plots(self) -> None:
        """Lay the graphs out two per row; without a GPU its graphs are left out (the
        reason shows above instead)."""
        for plot in self.plots.values():
            self.grid.removeWidget(plot)
        shown = [key for key in self.plots if self.has_gpu or key not in GPU_GRAPHS]
        for index, key in enumerate(shown):
            plot = self.plots[key]
            # One time axis per column, under the last row.
            plot.showAxis("bottom", index >= len(shown) - 2)
            self.grid.addWidget(plot, index // 2, index % 2)
            plot.show()
        for key in self.plots.keys() - set(shown):
            self.plots[key].hide()

    def _now(self) -> float:
        latest = self.monitor.latest
        return float(latest["time"]) if latest else time.time()

    def _on_history_reset(self, history: History) -> None:
        del history
        self.redraw()

    def _on_sample(self, sample: dict[str, Any], flat: dict[str, float]) -> None:
        self._show_glance(sample)
        if self.isVisible():
            self.redraw()

    def _show_glance(self, sample: dict[str, Any]) -> None:
        host = sample["host"]
        values = {"CPU": f"{host['cpu_percent']:.0f} %", "RAM": f"{host['memory_percent']:.0f} %"}
        gpus = sample["gpus"]
        if bool(gpus) != self.has_gpu:
            self.has_gpu = bool(gpus)
            if self.plots:
                self._place_plots()
        if gpus:
            gpu = gpus[0]
            values["GPU"] = figure(gpu["utilization_percent"], "{:.0f} %")
            used, total = gpu["memory_used_bytes"], gpu["memory_total_bytes"]
            values["VRAM"] = f"{human_bytes(used)} / {human_bytes(total)}"
            values["GPU °C"] = figure(gpu["temperature_c"], "{:.0f} °C")
            values["Power"] = figure(gpu["power_w"], "{:.0f} W")
            self.gpu_reason.hide()
        else:
            reason = str(sample["gpu_unavailable_reason"])
            self.gpu_reason.set_text(
                f"{reason[:1].upper()}{reason[1:]}. The GPU graphs appear when an NVIDIA GPU "
                "and its driver are there."
            )
            self.gpu_reason.show()
        server = sample["server"] or {}
        values["Req/s"] = figure(server.get("requests_per_s"), "{:.1f}")
        values["Tok/s"] = figure(server.get("tokens_per_s"), "{:.0f}")
        p95 = server.get("latency_p95_s")
        values["p95"] = figure(p95 * 1000 if p95 is not None else None, "{:.0f} ms")
        for key, label in self.glance.items():
            label.setText(f"{key}\n{values.get(key, '-')}")

    def _on_alerts_changed(self, alerts: list[dict[str, Any]]) -> None:
        self.alert_list.clear()
        for alert in alerts:
            since = time.strftime("%H:%M:%S", time.localtime(alert["since"]))
            self.alert_list.addItem(f"⚠ {alert['rule']}: {alert['message']} (since {since})")
        if not alerts:
            self.alert_list.addItem("No alerts")

    def _on_source_changed(self, source: str) -> None:
        self.source.setText(SOURCES.get(source, ""))
        title, text = REMOTE_NOTES.get(source, ("No GPU figures", ""))
        self.gpu_reason.title.setText(f"<b>{title}</b>")
        if source in REMOTE_NOTES:
            self.has_gpu = False  # until Prometheus shows one
            self.gpu_reason.set_text(text.format(url=self.monitor.prometheus_url))
            self.gpu_reason.show()
        if self.plots and self.built_for != source:
            self._build_plots()
            self.redraw()

    def _on_figures(self, figures: dict[str, str]) -> None:
        """A remote source's figures at a glance (an ``error``: Prometheus failed)."""
        error = figures.get("error", "")
        self.message.setText(error)
        if error:
            return
        for key, label in self.glance.items():
            label.setText(f"{key}\n{figures.get(key, '-')}")
        has_gpu = figures.get("GPU", "-") != "-"
        if has_gpu != self.has_gpu:
            self.has_gpu = has_gpu
            self.gpu_reason.setVisible(not has_gpu)
            if self.plots:
                self._place_plots()
        if self.isVisible():
            self.redraw()

    def _on_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV", "dashboard.csv", "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> None:
        try:
            self.monitor.export_csv(path, self.window_s, self._now())
        except (OSError, EliteError) as exc:
            self.message.setText(f"Could not export: {exc}")
        else:
            self.message.setText(f"Exported the visible window to {path}")

    def _on_save_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save PNG", "dashboard.png", "PNG (*.png)")
        if path:
            self.save_png(Path(path))

    def save_png(self, path: Path) -> None:
        if self.grab().save(str(path), "PNG"):
            self.message.setText(f"Saved {path}")
        else:
            self.message.setText(f"Could not save {path}")
