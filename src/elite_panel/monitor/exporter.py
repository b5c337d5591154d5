"""Prometheus metrics of this machine, for a team's Prometheus: host, NVIDIA GPUs,
supervised services and loaded models, from the dashboard's samples.

GPU series carry the DCGM exporter's names, units and labels (``DCGM_FI_DEV_GPU_UTIL``
in %, ``DCGM_FI_DEV_FB_USED``/``FB_FREE`` in MiB, ``DCGM_FI_DEV_GPU_TEMP`` in °C,
``DCGM_FI_DEV_POWER_USAGE`` in W; labels ``gpu``, ``UUID``, ``device``, ``modelName``,
``Hostname``), so dashboards made for it work. Host series keep the deployment guide's
names (``cpu_usage_percent``, ``memory_usage_percent``); ours are ``elite_*``.

A scrape formats the latest sample (taken in the background every few seconds): it costs
no sampling, whatever the scrape interval.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from elite_panel.monitor.nvml import GpuSample
from elite_panel.monitor.sample import Sample

MIB = 1024 * 1024
DEFAULT_LISTEN = "127.0.0.1:9401"


class SampleCollector(Collector):
    """The metric families of the latest sample (none until there is one)."""

    def __init__(self, latest: Callable[[], Sample | None], hostname: str | None = None) -> None:
        self.latest = latest
        self.hostname = hostname or socket.gethostname()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sample = self.latest()
        if sample is not None:
            yield from families(sample, self.hostname)


def _gauge(name: str, text: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, labels=labels)


def families(sample: Sample, hostname: str) -> list[GaugeMetricFamily]:
    """The sample as Prometheus gauges (absent values left out)."""
    host = sample.host
    cpu = _gauge("cpu_usage_percent", "CPU use of the machine, percent.")
    cpu.add_metric([], host.cpu_percent)
    memory = _gauge("memory_usage_percent", "Memory in use, percent.")
    memory.add_metric([], host.memory_percent)
    load = _gauge("elite_host_load1", "Load average over one minute.")
    load.add_metric([], host.load_1m)
    disk = _gauge("elite_host_disk_usage_percent", "Use of the data folder's filesystem, percent.")
    disk.add_metric([], host.disk_percent)
    out = [cpu, memory, load, disk]

    gpu_labels = ["gpu", "UUID", "device", "modelName", "Hostname"]
    dcgm: dict[str, tuple[str, Callable[[GpuSample], float | None]]] = {
        "DCGM_FI_DEV_GPU_UTIL": ("GPU utilization (in %).", lambda g: g.utilization_percent),
        "DCGM_FI_DEV_FB_USED": (
            "Framebuffer memory used (in MiB).",
            lambda g: None if g.memory_used_bytes is None else g.memory_used_bytes / MIB,
        ),
        "DCGM_FI_DEV_FB_FREE": (
            "Framebuffer memory free (in MiB).",
            lambda g: (
                None
                if g.memory_used_bytes is None or g.memory_total_bytes is None
                else (g.memory_total_bytes - g.memory_used_bytes) / MIB
            ),
        ),
        "DCGM_FI_DEV_GPU_TEMP": ("GPU temperature (in C).", lambda g: g.temperature_c),
        "DCGM_FI_DEV_POWER_USAGE": ("Power draw (in W).", lambda g: g.power_w),
        "DCGM_FI_DEV_SM_CLOCK": ("SM clock frequency (in MHz).", lambda g: g.sm_clock_mhz),
        "DCGM_FI_DEV_MEM_CLOCK": ("Memory clock frequency (in MHz).", lambda g: g.memory_clock_mhz),
    }
    for name, (text, value_of) in dcgm.items():
        family = _gauge(name, text, gpu_labels)
        for gpu in sample.gpus:
            value = value_of(gpu)
            if value is not None:
                labels = [str(gpu.index), gpu.uuid or "", f"nvidia{gpu.index}", gpu.name, hostname]
                family.add_metric(labels, value)
        out.append(family)

    up = _gauge("elite_service_up", "1 while the supervised service is ready.", ["service"])
    for name, state in sample.states.items():
        up.add_metric([name], 1.0 if state == "ready" else 0.0)
    cpu_s = _gauge(
        "elite_service_cpu_percent", "CPU of the service's processes, % of a core.", ["service"]
    )
    rss = _gauge(
        "elite_service_memory_bytes", "Resident memory of the service's processes.", ["service"]
    )
    vram = _gauge(
        "elite_service_gpu_memory_bytes", "GPU memory the service's processes hold.", ["service"]
    )
    for service in sample.services:
        cpu_s.add_metric([service.name], service.cpu_percent)
        rss.add_metric([service.name], service.rss_bytes)
        if service.gpu_memory_bytes is not None:
            vram.add_metric([service.name], service.gpu_memory_bytes)
    share = _gauge(
        "elite_model_gpu_fraction",
        "Share of a loaded model in GPU memory (below 1: part of it spilled to the CPU).",
        ["model"],
    )
    for model in sample.models:
        if model.gpu_fraction is not None:
            share.add_metric([model.name], model.gpu_fraction)
    return [*out, up, cpu_s, rss, vram, share]


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, all addresses) → (host, port); ValueError when not."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{listen!r} is not HOST:PORT (for example {DEFAULT_LISTEN})")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve(listen: str, latest: Callable[[], Sample | None]) -> WSGIServer:
    """Serve ``/metrics`` on ``listen`` in a background thread; ``shutdown()`` stops it."""
    host, port = parse_listen(listen)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SampleCollector(latest))
    server, _thread = start_http_server(port, host, registry)
    return server
