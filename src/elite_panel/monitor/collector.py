"""One sampling tick: host, services and GPUs in a worker thread, runner and server over HTTP.

Used by the supervisor daemon (every second while the stack runs), by the panel when no
daemon runs, and by ``elite-panel metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.monitor.host import HostSample, HostSampler
from elite_panel.monitor.nvml import GpuReader, GpuReading
from elite_panel.monitor.runner_models import LoadedModel, loaded_models
from elite_panel.monitor.sample import Sample, with_gpu_owners
from elite_panel.monitor.server_metrics import ServerMetricsReader, ServerSample
from elite_panel.monitor.services import ServiceSample, ServiceSampler

log = logging.getLogger(__name__)

MODELS_EVERY_S = 5.0


class Collector:
    """Takes samples; keeps what rates need between ticks (so reuse one instance).

    Args:
        data_dir: whose filesystem the host sample reports.
        gpu: the GPU reader (a double in tests).
        http: client for the runner's and the server's HTTP endpoints.
    """

    def __init__(
        self,
        data_dir: Path,
        gpu: GpuReader | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.host = HostSampler(data_dir)
        self.services = ServiceSampler()
        self.gpu = gpu or GpuReader()
        self.server = ServerMetricsReader()
        self._http = http or httpx.AsyncClient(trust_env=False)
        self._own_http = http is None
        self._models_at = -math.inf
        self._last_models: list[LoadedModel] = []

    async def sample(self, statuses: Sequence[ServiceStatus] = ()) -> Sample:
        targets = [(s.name, s.pid) for s in statuses if s.pid and s.state.is_active]
        blocking = asyncio.to_thread(self._blocking, targets)
        runner = next((s for s in statuses if s.name == "runner"), None)
        assistant = next((s for s in statuses if s.name == "assistant"), None)
        (host, services, reading), models, server = await asyncio.gather(
            blocking, self._models(runner), self._server(assistant)
        )
        return Sample(
            time=time.time(),
            host=host,
            gpus=reading.gpus,
            gpu_unavailable_reason=reading.unavailable_reason,
            services=tuple(with_gpu_owners(services, reading.gpus)),
            models=tuple(models),
            server=server,
            states={s.name: s.state.value for s in statuses},
        )

    def _blocking(
        self, targets: list[tuple[str, int]]
    ) -> tuple[HostSample, list[ServiceSample], GpuReading]:
        return self.host.sample(), self.services.sample(targets), self.gpu.sample()

    async def _models(self, runner: ServiceStatus | None) -> list[LoadedModel]:
        """Asked every :data:`MODELS_EVERY_S` seconds: models load and unload rarely."""
        if runner is None or runner.state is not ServiceState.READY or not runner.url:
            self._models_at = -math.inf
            return []
        now = time.monotonic()
        if now - self._models_at < MODELS_EVERY_S:
            return self._last_models
        self._models_at = now
        try:
            self._last_models = await loaded_models(self._http, runner.kind, runner.url)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("loaded models: %s", exc)
            self._last_models = []
        return self._last_models

    async def _server(self, assistant: ServiceStatus | None) -> ServerSample | None:
        if assistant is None or assistant.state is not ServiceState.READY or not assistant.url:
            self.server.reset()
            return None
        try:
            response = await self._http.get(f"{assistant.url}/metrics", timeout=2.0)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.debug("server metrics: %s", exc)
            self.server.reset()
            return None
        return self.server.update(response.text, time.monotonic())

    async def aclose(self) -> None:
        await asyncio.to_thread(self.gpu.close)
        if self._own_http:
            await self._http.aclose()
