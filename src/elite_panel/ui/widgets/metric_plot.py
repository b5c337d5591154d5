"""One dashboard graph: named curves over time (pyqtgraph), optionally stacked, with a
hover read-out of the values under the mouse.

Curves are created the first time their series appears and then only get ``setData`` with
the history's columns read as numpy arrays; pyqtgraph clips to the view and downsamples
long windows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGraphicsItem

from elite_panel.monitor.history import FloatArray as Column
from elite_panel.ui import theme

FloatArray = npt.NDArray[np.float64]


class MetricPlot(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph ships no type hints
    """One dashboard graph: named curves over time, optionally stacked.

    Args:
        title: the graph's title.
        pattern: a regular expression; series whose names match are drawn.
        label: turns a series name into its legend label (e.g. ``svc.runner.cpu`` → runner).
        fmt: formats a value for the read-out.
        stacked: draw the series as stacked areas (VRAM by owner).
        y_range: a fixed value axis (percentages: 0 to 100); without one the axis runs
            from zero to the window's largest value, so a steady series is a level line
            at its height, not a hair-thin band zoomed around it.

    Signals:
        hovered(str): the read-out text for the point under the mouse.
    """

    hovered = Signal(str)

    def __init__(
        self,
        title: str,
        pattern: str,
        label: Callable[[str], str],
        fmt: Callable[[float], str],
        stacked: bool = False,
        y_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(axisItems={"bottom": pg.DateAxisItem()})
        self.title = title
        self.setTitle(title)
        self.pattern = re.compile(pattern)
        self.label = label
        self.fmt = fmt
        self.stacked = stacked
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setMinimumHeight(140)
        self.addLegend(offset=(5, 5), labelTextSize="8pt")
        plot = self.getPlotItem()
        # Drawing axis text is most of a redraw: keep the value axis as a cached pixmap,
        # redrawn only when its range changes (the time axis moves every sample anyway).
        plot.getAxis("left").setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        self._times: FloatArray = np.empty(0)
        self._values: dict[str, FloatArray] = {}
        self.y_range = y_range
        if y_range:
            self.setYRange(*y_range, padding=0.02)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.follow_palette()

    def follow_palette(self) -> None:
        """Background, axes and title in the window's colours (light or dark)."""
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        for name in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        self.setTitle(self.title, color=text.name())

    def changeEvent(self, event: QEvent) -> None:
        # (also called while pyqtgraph builds the widget, before its plot exists)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "title"):
            self.follow_palette()
        super().changeEvent(event)

    def names(self, series: Mapping[str, object]) -> list[str]:
        return sorted(name for name in series if self.pattern.fullmatch(name))

    def show_window(self, times: Column, series: Mapping[str, Column]) -> None:
        """Draw a window of the history (its ``array("d")`` columns, read as numpy arrays
        without a copy)."""
        names = self.names(series)
        self._times = np.asarray(times, dtype=np.float64)
        self._values = {name: np.asarray(series[name], dtype=np.float64) for name in names}
        if self.stacked:
            top = self._draw_stacked(self._times, names, self._values)
        else:
            for name in names:
                self._curve(name).setData(self._times, self._values[name], connect="finite")
            top = max((_peak(values) for values in self._values.values()), default=0.0)
        if self.y_range is None and top > 0:
            self.setYRange(0, top * 1.05, padding=0.02)

    def _draw_stacked(
        self, times: FloatArray, names: list[str], series: Mapping[str, FloatArray]
    ) -> float:
        """Draw the bands; returns the largest total."""
        # "other" goes on top; each curve is the running total, filled down to zero and
        # drawn in front of the larger totals, so each band shows one owner's share.
        names = sorted(names, key=lambda n: (n.endswith(".other"), n))
        total = np.zeros(len(times))
        for z, name in enumerate(names):
            total = total + np.nan_to_num(series[name])
            curve = self._curve(name, fill=True)
            curve.setZValue(len(names) - z)
            curve.setData(times, total.copy())
        return _peak(total)

    def _curve(self, name: str, fill: bool = False) -> pg.PlotDataItem:
        curve = self.curves.get(name)
        if curve is None:
            color = theme.SERIES[len(self.curves) % len(theme.SERIES)]
            curve = self.plot(name=self.label(name), pen=pg.mkPen(color, width=1.5))
            if fill:
                curve.setFillLevel(0)
                curve.setBrush(pg.mkBrush(color + "90"))
            self.curves[name] = curve
        return curve

    def readout(self, x: float) -> str:
        """Values at the sample nearest to time ``x``."""
        if not len(self._times):
            return ""
        index = int(np.clip(np.searchsorted(self._times, x), 0, len(self._times) - 1))
        if index > 0 and abs(self._times[index - 1] - x) < abs(self._times[index] - x):
            index -= 1
        stamp = time.strftime("%H:%M:%S", time.localtime(self._times[index]))
        parts = []
        for name, values in self._values.items():
            value = values[index]
            if not np.isnan(value):
                parts.append(f"{self.label(name)} {self.fmt(float(value))}")
        return f"{stamp}  {self.getPlotItem().titleLabel.text}: " + ", ".join(parts)

    def _on_mouse_moved(self, position: QPointF) -> None:
        if self.sceneBoundingRect().contains(position):
            x = self.getPlotItem().vb.mapSceneToView(position).x()
            self.hovered.emit(self.readout(x))


def _peak(values: FloatArray) -> float:
    """The largest value of a series (0 when it has none)."""
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else 0.0
