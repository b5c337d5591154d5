"""Prometheus as the dashboard's source for a team's cluster: every host and GPU it knows,
the server's figures summed over its replicas, the pool's runners, and its firing alerts.

History comes from range queries (a dashboard just opened shows the last 24 h at once:
one-minute steps, then five-second steps for the last 15 minutes) and is kept in the
dashboard's own :class:`History`, each series under a name the graphs select by pattern:
``host.cpu@INSTANCE``, ``gpu0@INSTANCE.util``, ``server.rps``, ``runner.NAME.in_flight``...
"""

from __future__ import annotations

import asyncio
import math
import ssl
from datetime import datetime
from typing import Any

import httpx

from elite_panel.core.errors import EliteError
from elite_panel.monitor.history import FINE_SPAN_S, History
from elite_panel.monitor.report import figure, human_bytes

STEP_S = 5.0  # the live step (and the fine tier's interval)
COARSE_STEP_S = 60.0  # the step of the 24 h history
DAY_S = 86_400.0
TIMEOUT_S = 10.0

# (series name, from the result's labels; PromQL). Our exporter's and node exporter's host
# figures, DCGM's names for GPUs (ours and NVIDIA's exporter alike), the server's series
# summed over its replicas.
QUERIES: tuple[tuple[str, str], ...] = (
    ("host.cpu@{instance}", "cpu_usage_percent"),
    (
        "host.cpu@{instance}",
        '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))',
    ),
    ("host.memory@{instance}", "memory_usage_percent"),
    (
        "host.memory@{instance}",
        "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
    ),
    ("gpu{gpu}@{instance}.util", "DCGM_FI_DEV_GPU_UTIL"),
    ("gpu{gpu}@{instance}.vram.used", "DCGM_FI_DEV_FB_USED * 1048576"),
    ("gpu{gpu}@{instance}.vram.total", "(DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 1048576"),
    ("gpu{gpu}@{instance}.temp", "DCGM_FI_DEV_GPU_TEMP"),
    ("gpu{gpu}@{instance}.power", "DCGM_FI_DEV_POWER_USAGE"),
    ("server.rps", "sum(rate(http_requests_total[1m]))"),
    ("server.tps", "sum(rate(assistant_tokens_generated_total[1m]))"),
    (
        "server.p95",
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    (
        "server.ttft",
        "histogram_quantile(0.95, "
        "sum by (le) (rate(assistant_time_to_first_token_seconds_bucket[5m])))",
    ),
    ("runner.{runner}.in_flight", "sum by (runner) (assistant_runner_in_flight)"),
)


class PrometheusFeed:
    """The dashboard's history from one Prometheus server (its HTTP API, off the UI thread).

    Attributes:
        history: every series, 24 h of it once :meth:`load` has run.
        latest: each series' newest value (for the figures at a glance).
    """

    def __init__(self, url: str, verify: bool | ssl.SSLContext = True) -> None:
        self.url = url.rstrip("/")
        self.history = History(STEP_S)
        self.latest: dict[str, float] = {}
        self._last: float | None = None
        self._http = httpx.AsyncClient(
            base_url=self.url, timeout=TIMEOUT_S, trust_env=False, verify=verify
        )

    async def load(self, now: float) -> None:
        """The last 24 h before ``now``: one-minute steps, then 5 s for the last 15 min."""
        fine_from = now - FINE_SPAN_S
        self._add(await self._range(now - DAY_S, fine_from - COARSE_STEP_S, COARSE_STEP_S))
        self._add(await self._range(fine_from, now, STEP_S))
        self._last = now

    async def update(self, now: float) -> None:
        """The points since the last load or update, up to ``now``."""
        since = self._last if self._last is not None else now - FINE_SPAN_S
        self._add(await self._range(since + STEP_S, now, STEP_S))
        self._last = max(self._last or now, now)

    def _add(self, points: dict[float, dict[str, float]]) -> None:
        for t in sorted(points):
            if self._last is None or t > self._last:
                self.history.add(t, points[t])
                self.latest.update(points[t])

    async def alerts(self) -> list[dict[str, Any]]:
        """The alerts firing now, as the dashboard lists them (rule, message, since)."""
        body = await self._get("/api/v1/alerts", {})
        firing = [a for a in body["data"]["alerts"] if a.get("state") == "firing"]
        return sorted((_alert(a) for a in firing), key=lambda a: (a["since"], a["rule"]))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _range(self, start: float, end: float, step: float) -> dict[float, dict[str, float]]:
        """Every query over ``[start, end]``: time → series name → value."""
        if end < start:
            return {}
        params = {"start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        answers = await asyncio.gather(
            *(self._get("/api/v1/query_range", {**params, "query": q}) for _, q in QUERIES)
        )
        points: dict[float, dict[str, float]] = {}
        for (template, _query), body in zip(QUERIES, answers, strict=True):
            for result in body["data"]["result"]:
                name = _name(template, result["metric"])
                for t, value in result["values"]:
                    points.setdefault(float(t), {})[name] = float(value)
        return points

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise EliteError(f"Prometheus at {self.url} failed: {exc}") from exc
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or body.get("status") != "success":
            reason = body.get("error") or f"HTTP {response.status_code}"
            raise EliteError(f"Prometheus at {self.url} refused a query: {reason}")
        return body


def _name(template: str, labels: dict[str, str]) -> str:
    return template.format_map({"instance": "", "gpu": "", "runner": "", **labels})


def _alert(alert: dict[str, Any]) -> dict[str, Any]:
    labels, notes = alert.get("labels", {}), alert.get("annotations", {})
    where = labels.get("instance") or labels.get("runner") or ""
    message = notes.get("summary") or notes.get("description") or where
    since = alert.get("activeAt", "")
    try:
        started = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
    except ValueError:
        started = math.nan
    return {"rule": labels.get("alertname", "?"), "message": message, "since": started}


def glance(latest: dict[str, float]) -> dict[str, str]:
    """The dashboard's figures at a glance for the whole cluster, from the newest values:
    hosts' CPU and RAM averaged, GPUs' use averaged, VRAM and power summed, the hottest."""

    def values(prefix: str, suffix: str = "") -> list[float]:
        return [
            v
            for k, v in latest.items()
            if k.startswith(prefix) and k.endswith(suffix) and not math.isnan(v)
        ]

    def mean(found: list[float]) -> float | None:
        return sum(found) / len(found) if found else None

    used, total = values("gpu", ".vram.used"), values("gpu", ".vram.total")
    power = values("gpu", ".power")
    p95 = latest.get("server.p95")
    return {
        "CPU": figure(mean(values("host.cpu@")), "{:.0f} %"),
        "RAM": figure(mean(values("host.memory@")), "{:.0f} %"),
        "GPU": figure(mean(values("gpu", ".util")), "{:.0f} %"),
        "VRAM": f"{human_bytes(sum(used))} / {human_bytes(sum(total))}" if used else "-",
        "GPU °C": figure(max(values("gpu", ".temp"), default=None), "{:.0f} °C"),
        "Power": figure(sum(power) if power else None, "{:.0f} W"),
        "Req/s": figure(latest.get("server.rps"), "{:.1f}"),
        "Tok/s": figure(latest.get("server.tps"), "{:.0f}"),
        "p95": figure(None if p95 is None else p95 * 1000, "{:.0f} ms"),
    }
