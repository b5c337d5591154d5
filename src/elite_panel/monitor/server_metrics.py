"""The assistant server's ``/metrics`` turned into rates: requests/s, p95 latency, tokens/s.

Prometheus counters only grow, so each figure is the change since the previous scrape: the
p95 latency is that of the requests answered in the interval (interpolated inside the
histogram's buckets, as PromQL's ``histogram_quantile`` does), not since start.  Scrapes
of ``/metrics`` itself are left out, or the panel would count its own polling.

The exposition text is read line by line for the few series used here instead of with
``prometheus_client.parser``: that general parser took 4.6 ms per scrape, half of the
supervisor's whole sampling tick (measured with cProfile on the running stack).  The tests
feed it the output of the real ``prometheus_client`` registry the server uses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

IGNORED_ENDPOINTS = frozenset({"/metrics"})
_WANTED = ("http_request", "assistant_")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class ServerSample:
    """The assistant server's rates between two scrapes of ``/metrics``."""

    requests_per_s: float | None
    latency_p95_s: float | None
    tokens_per_s: float | None
    time_to_first_token_s: float | None
    active_streams: float | None
    backend_up: bool | None


@dataclass
class _Totals:
    requests: float = 0.0
    tokens: float = 0.0
    ttft_sum: float = 0.0
    ttft_count: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # le → cumulative count
    active_streams: float | None = None
    backend_up: float | None = None


class ServerMetricsReader:
    """Keeps the previous scrape; :meth:`update` returns the rates since then."""

    def __init__(self) -> None:
        self._previous: tuple[float, _Totals] | None = None

    def update(self, text: str, now: float) -> ServerSample:
        totals = _parse(text)
        previous, self._previous = self._previous, (now, totals)
        rps = tps = p95 = ttft = None
        if previous is not None:
            then, old = previous
            elapsed = max(now - then, 1e-6)
            if totals.requests >= old.requests:  # else the server restarted: skip one
                rps = (totals.requests - old.requests) / elapsed
                tps = max(totals.tokens - old.tokens, 0.0) / elapsed
                p95 = _quantile(0.95, totals.buckets, old.buckets)
                answered = totals.ttft_count - old.ttft_count
                if answered > 0:
                    ttft = (totals.ttft_sum - old.ttft_sum) / answered
        return ServerSample(
            requests_per_s=rps,
            latency_p95_s=p95,
            tokens_per_s=tps,
            time_to_first_token_s=ttft,
            active_streams=totals.active_streams,
            backend_up=None if totals.backend_up is None else totals.backend_up >= 1,
        )

    def reset(self) -> None:
        self._previous = None


def _samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """``(name, labels, value)`` of the wanted series in Prometheus text format."""
    for line in text.splitlines():
        if not line.startswith(_WANTED):
            continue
        head, _, value = line.rpartition(" ")
        name, brace, rest = head.partition("{")
        labels = dict(_LABEL.findall(rest)) if brace else {}
        try:
            yield name.strip(), labels, float(value)
        except ValueError:
            continue


def _parse(text: str) -> _Totals:
    totals = _Totals()
    for name, labels, value in _samples(text):
        if labels.get("endpoint") in IGNORED_ENDPOINTS:
            continue
        if name == "http_requests_total":
            totals.requests += value
        elif name == "http_request_duration_seconds_bucket":
            le = float(labels["le"])
            totals.buckets[le] = totals.buckets.get(le, 0.0) + value
        elif name == "assistant_tokens_generated_total":
            totals.tokens += value
        elif name == "assistant_time_to_first_token_seconds_sum":
            totals.ttft_sum += value
        elif name == "assistant_time_to_first_token_seconds_count":
            totals.ttft_count += value
        elif name == "assistant_active_streams":
            totals.active_streams = value
        elif name == "assistant_backend_up":
            totals.backend_up = value
    return totals


def _quantile(q: float, now: dict[float, float], before: dict[float, float]) -> float | None:
    """``histogram_quantile(q, increase(...))`` over cumulative bucket counts."""
    bounds = sorted(now)
    counts = [now[le] - before.get(le, 0.0) for le in bounds]
    if not counts or counts[-1] <= 0:
        return None
    rank = q * counts[-1]
    lower_bound, lower_count = 0.0, 0.0
    for le, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(le):
                return lower_bound  # as PromQL: the highest finite bound
            width = count - lower_count
            return lower_bound + (le - lower_bound) * ((rank - lower_count) / width if width else 1)
        lower_bound, lower_count = le, count
    return None
