"""Sample history in ring buffers: full resolution for 15 minutes, 10 s means for 24 h.

Both tiers have a fixed size, allocated once per series, so 24 hours of history costs the
same memory after a minute as after a day (about 76 KB per series at a 1 s interval). The
buffers are the standard library's ``array("d")``: a window is a few C-level slice copies,
never Python lists rebuilt per frame, and the graphs read them as numpy arrays without a
copy (buffer protocol), while the supervisor, which keeps a history all day, does without
numpy (about 13 MB).

The daemon keeps one and hands it to a panel that connects (:meth:`History.to_json`); the
panel keeps appending live samples to its copy.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Mapping
from typing import Any, TypeAlias

FINE_SPAN_S = 15 * 60
COARSE_STEP_S = 10.0
COARSE_SPAN_S = 24 * 3600

FloatArray: TypeAlias = "array[float]"  # array("d"); numpy reads it without a copy


def _nans(length: int) -> FloatArray:
    return array("d", [math.nan]) * length


class Ring:
    """Fixed-capacity time series sharing one time axis (times increase); missing values
    are NaN."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.times = _nans(capacity)
        self.series: dict[str, FloatArray] = {}
        self._next = 0
        self.count = 0

    def append(self, t: float, values: Mapping[str, float]) -> None:
        i = self._next
        self.times[i] = t
        for name, column in self.series.items():
            column[i] = values.get(name, math.nan)
        for name in values.keys() - self.series.keys():
            column = _nans(self.capacity)
            column[i] = values[name]
            self.series[name] = column
        self._next = (i + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def _ordered(self, column: FloatArray) -> FloatArray:
        """The filled part of ``column``, oldest first (a copy)."""
        if self.count < self.capacity:
            return column[: self.count]
        return column[self._next :] + column[: self._next]

    def view(self, since: float = -math.inf) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Times and values at or after ``since``, oldest first (copies)."""
        times = self._ordered(self.times)
        start = bisect.bisect_left(times, since)
        return times[start:], {
            name: self._ordered(column)[start:] for name, column in self.series.items()
        }

    @property
    def last_time(self) -> float | None:
        return None if self.count == 0 else self.times[(self._next - 1) % self.capacity]

    @property
    def nbytes(self) -> int:
        columns = [self.times, *self.series.values()]
        return sum(len(c) * c.itemsize for c in columns)

    def to_json(self) -> dict[str, Any]:
        times, series = self.view()
        return {"times": _plain(times), "series": {k: _plain(v) for k, v in series.items()}}

    def load(self, data: Mapping[str, Any]) -> None:
        """Fill an empty ring from :meth:`to_json` output (``None`` → NaN)."""
        times = _floats(data.get("times", [])[-self.capacity :])
        n = len(times)
        self.times[:n] = times
        for name, values in data.get("series", {}).items():
            column = _nans(self.capacity)
            if n:
                column[:n] = _floats(values[-n:])
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
            name: series.get(name, _nans(len(times))) + tail.get(name, _nans(len(tail_times)))
            for name in names
        }
        return times + tail_times, joined

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
    return [None if math.isnan(v) else v for v in values]


def _floats(values: list[float | None]) -> FloatArray:
    return array("d", (math.nan if v is None else v for v in values))
