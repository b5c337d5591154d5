"""One sample of everything the dashboard shows, as JSON and as flat numeric series.

:func:`flatten` gives the names the history keeps and the graphs plot, so that the daemon
and the panel agree on them:

- ``host.cpu``, ``host.memory`` (percent), ``host.disk_read``/``host.disk_write``/
  ``host.net_recv``/``host.net_sent`` (bytes/s), ``host.load1``;
- ``gpu<i>.util``, ``gpu<i>.temp``, ``gpu<i>.power``, ``gpu<i>.vram`` (bytes used),
  ``gpu<i>.vram_total``, ``gpu<i>.vram.<owner>`` (bytes held by a service, or ``other``);
- ``svc.<name>.cpu`` (percent of a core), ``svc.<name>.rss`` (bytes);
- ``server.rps``, ``server.p95`` (s), ``server.tps``, ``server.ttft`` (s), ``server.streams``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from elite_panel.monitor.host import HostSample
from elite_panel.monitor.nvml import GpuSample
from elite_panel.monitor.runner_models import LoadedModel
from elite_panel.monitor.server_metrics import ServerSample
from elite_panel.monitor.services import ServiceSample


@dataclass(frozen=True)
class Sample:
    """One tick of the dashboard: host, GPUs, services, models and server."""

    time: float  # Unix seconds
    host: HostSample
    gpus: tuple[GpuSample, ...] = ()
    gpu_unavailable_reason: str | None = None
    services: tuple[ServiceSample, ...] = ()
    models: tuple[LoadedModel, ...] = ()
    server: ServerSample | None = None
    states: dict[str, str] = field(default_factory=dict)  # service name → state

    def to_json(self) -> dict[str, Any]:
        gpus = []
        for gpu in self.gpus:
            data = asdict(gpu)
            data["memory_percent"] = gpu.memory_percent
            gpus.append(data)
        models = []
        for model in self.models:
            data = asdict(model)
            data["gpu_fraction"] = model.gpu_fraction
            models.append(data)
        return {
            "time": self.time,
            "host": asdict(self.host),
            "gpus": gpus,
            "gpu_unavailable_reason": self.gpu_unavailable_reason,
            "services": [
                {**asdict(s), "pids": list(s.pids), "state": self.states.get(s.name)}
                for s in self.services
            ],
            "models": models,
            "server": asdict(self.server) if self.server else None,
        }


def with_gpu_owners(
    services: list[ServiceSample], gpus: tuple[GpuSample, ...]
) -> list[ServiceSample]:
    """Services with the GPU memory their process trees hold."""
    held: dict[int, int] = {}
    for gpu in gpus:
        for proc in gpu.processes:
            held[proc.pid] = held.get(proc.pid, 0) + (proc.used_memory_bytes or 0)
    if not held:
        return services
    return [
        replace(s, gpu_memory_bytes=sum(held.get(pid, 0) for pid in s.pids) or None)
        for s in services
    ]


def flatten(sample: Sample) -> dict[str, float]:
    """The sample's numbers by series name (see the module docstring); absent values left out."""
    out: dict[str, float] = {}

    def put(name: str, value: float | None) -> None:
        if value is not None:
            out[name] = float(value)

    host = sample.host
    put("host.cpu", host.cpu_percent)
    put("host.memory", host.memory_percent)
    put("host.load1", host.load_1m)
    put("host.disk_read", host.disk_read_bytes_per_s)
    put("host.disk_write", host.disk_write_bytes_per_s)
    put("host.net_recv", host.net_recv_bytes_per_s)
    put("host.net_sent", host.net_sent_bytes_per_s)
    owners = {pid: s.name for s in sample.services for pid in s.pids}
    for gpu in sample.gpus:
        prefix = f"gpu{gpu.index}"
        put(f"{prefix}.util", gpu.utilization_percent)
        put(f"{prefix}.temp", gpu.temperature_c)
        put(f"{prefix}.power", gpu.power_w)
        put(f"{prefix}.vram", gpu.memory_used_bytes)
        put(f"{prefix}.vram_total", gpu.memory_total_bytes)
        ours: dict[str, float] = {}
        for proc in gpu.processes:
            owner = owners.get(proc.pid)
            if owner is not None and proc.used_memory_bytes is not None:
                ours[owner] = ours.get(owner, 0.0) + proc.used_memory_bytes
        for owner, used in ours.items():
            put(f"{prefix}.vram.{owner}", used)
        if gpu.memory_used_bytes is not None:
            put(f"{prefix}.vram.other", max(gpu.memory_used_bytes - sum(ours.values()), 0))
    for service in sample.services:
        put(f"svc.{service.name}.cpu", service.cpu_percent)
        put(f"svc.{service.name}.rss", service.rss_bytes)
    if sample.server is not None:
        server = sample.server
        put("server.rps", server.requests_per_s)
        put("server.p95", server.latency_p95_s)
        put("server.tps", server.tokens_per_s)
        put("server.ttft", server.time_to_first_token_s)
        put("server.streams", server.active_streams)
    return out
