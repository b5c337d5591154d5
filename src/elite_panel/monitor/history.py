"""Sample history in numpy ring buffers: full resolution for 15 minutes, 10 s means for 24 h.

Both tiers have a fixed size, allocated once per series, so 24 hours of history costs the
same memory after a minute as after a day (about 76 KB per series at a 1 s interval), and
a graph reads a window as numpy slices, never as Python lists rebuilt per frame.

The daemon keeps one and hands it to a panel that connects (:meth:`History.to_json`); the
panel keeps appending live samples to its copy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

FINE_SPAN_S = 15 * 60
COARSE_STEP_S = 10.0
COARSE_SPAN_S = 24 * 3600

FloatArray = npt.NDArray[np.float64]


class Ring:
    """Fixed-capacity time series sharing one time axis; missing values are NaN."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.times = np.full(capacity, np.nan)
        self.series: dict[str, FloatArray] = {}
        self._next = 0
        self.count = 0

    def append(self, t: float, values: Mapping[str, float]) -> None:
        i = self._next
        self.times[i] = t
        for name, column in self.series.items():
            column[i] = values.get(name, np.nan)
        for name in values.keys() - self.series.keys():
            column = np.full(self.capacity, np.nan)
            column[i] = values[name]
            self.series[name] = column
        self._next = (i + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def _order(self) -> npt.NDArray[np.intp] | slice:
        if self.count < self.capacity:
            return slice(0, self.count)
        order: npt.NDArray[np.intp] = np.r_[self._next : self.capacity, 0 : self._next]
        return order

    def view(self, since: float = -math.inf) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Times and values at or after ``since``, oldest first (copies)."""
        order = self._order()
        times = self.times[order]
        keep = times >= since
        return times[keep], {name: column[order][keep] for name, column in self.series.items()}

    @property
    def last_time(self) -> float | None:
        return None if self.count == 0 else float(self.times[(self._next - 1) % self.capacity])

    @property
    def nbytes(self) -> int:
        return int(self.times.nbytes + sum(c.nbytes for c in self.series.values()))

    def to_json(self) -> dict[str, Any]:
        times, series = self.view()
        return {"times": _plain(times), "series": {k: _plain(v) for k, v in series.items()}}

    def load(self, data: Mapping[str, Any]) -> None:
        """Fill an empty ring from :meth:`to_json` output (``None`` → NaN)."""
        times = np.asarray(data.get("times", []), dtype=np.float64)[-self.capacity :]
        n = len(times)
        self.times[:n] = times
        for name, values in data.get("series", {}).items():
            column = np.full(self.capacity, np.nan)
            column[:n] = np.asarray(values, dtype=np.float64)[-n:] if n else []
            self.series[name] = column
        self.count = n
        self._next = n % self.capacity


class History:
    """Two tiers of :class:`Ring` fed by :meth:`add`; see the module docstring.

    Args:
        interval_s: the sampling interval, which sizes the full-resolution tier.
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.fine = Ring(max(math.ceil(FINE_SPAN_S / interval_s), 1))
        self.coarse = Ring(int(COARSE_SPAN_S / COARSE_STEP_S))
        self._bucket: int | None = None
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, t: float, values: Mapping[str, float]) -> None:
        self.fine.append(t, values)
        bucket = int(t // COARSE_STEP_S)
        if self._bucket is not None and bucket != self._bucket:
            self._flush()
        self._bucket = bucket
        for name, value in values.items():
            if not math.isnan(value):
                self._sums[name] = self._sums.get(name, 0.0) + value
                self._counts[name] = self._counts.get(name, 0) + 1

    def _flush(self) -> None:
        if self._bucket is None or not self._counts:
            return
        means = {name: self._sums[name] / count for name, count in self._counts.items()}
        self.coarse.append((self._bucket + 0.5) * COARSE_STEP_S, means)  # the bucket's middle
        self._sums.clear()
        self._counts.clear()

    def window(self, seconds: float, now: float) -> tuple[FloatArray, dict[str, FloatArray]]:
        """The last ``seconds`` before ``now``: full resolution when the fine tier covers it,
        else the 10 s means followed by the samples newer than the last mean."""
        since = now - seconds
        if seconds <= FINE_SPAN_S:
            return self.fine.view(since)
        times, series = self.coarse.view(since)
        last = self.coarse.last_time
        # the samples after the last mean's bucket (it ends half a step after its time)
        tail_times, tail = self.fine.view(last + COARSE_STEP_S / 2 if last is not None else since)
        if not len(tail_times):
            return times, series
        names = series.keys() | tail.keys()
        joined = {
            name: np.concatenate(
                [
                    series.get(name, np.full(len(times), np.nan)),
                    tail.get(name, np.full(len(tail_times), np.nan)),
                ]
            )
            for name in names
        }
        return np.concatenate([times, tail_times]), joined

    @property
    def nbytes(self) -> int:
        return self.fine.nbytes + self.coarse.nbytes

    def to_json(self) -> dict[str, Any]:
        return {
            "interval_s": self.interval_s,
            "fine": self.fine.to_json(),
            "coarse": self.coarse.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> History:
        history = cls(float(data.get("interval_s", 1.0)))
        history.fine.load(data.get("fine", {}))
        history.coarse.load(data.get("coarse", {}))
        last = history.coarse.last_time
        if last is not None:
            history._bucket = int(last // COARSE_STEP_S)  # the next bucket continues from here
        return history


def to_csv(times: FloatArray, series: Mapping[str, FloatArray]) -> str:
    """A window as CSV: ISO time (UTC), Unix time, then one column per series."""
    import csv
    import io
    from datetime import UTC, datetime

    names = sorted(series)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time_utc", "unix_time", *names])
    for index, t in enumerate(times.tolist()):
        stamp = datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")
        row = [series[name][index] for name in names]
        writer.writerow([stamp, f"{t:.3f}", *("" if math.isnan(v) else f"{v:g}" for v in row)])
    return out.getvalue()


def _plain(values: FloatArray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values.tolist()]
