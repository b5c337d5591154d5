"""The machine itself through psutil: CPU, load, memory, the data folder's disk, network.

Rates (disk and network bytes per second) come from the counters' change since the previous
sample, so the first sample has none; CPU percentages are since the previous call too,
which is why the sampler primes psutil when it is created.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


@dataclass(frozen=True)
class HostSample:
    """One reading of the machine: CPU, memory, disk and network."""

    cpu_percent: float
    cpu_per_core: tuple[float, ...]
    load_1m: float
    load_5m: float
    load_15m: float
    memory_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    swap_percent: float
    swap_used_bytes: int
    disk_path: str
    disk_percent: float
    disk_used_bytes: int
    disk_total_bytes: int
    disk_read_bytes_per_s: float | None
    disk_write_bytes_per_s: float | None
    net_recv_bytes_per_s: float | None
    net_sent_bytes_per_s: float | None


class HostSampler:
    """Samples the host; blocking but cheap (a few /proc reads).

    Args:
        data_dir: its filesystem is the one whose usage and I/O are reported.
        clock: monotonic seconds (injected by tests).
    """

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.data_dir = data_dir
        self._clock = clock
        self._disk = _disk_name(data_dir)
        self._previous: tuple[float, Any, Any] | None = None
        psutil.cpu_percent(percpu=True)  # prime: the first call has nothing to compare with
        self._counters()

    def sample(self) -> HostSample:
        cores = tuple(psutil.cpu_percent(percpu=True))
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        usage = psutil.disk_usage(str(_existing(self.data_dir)))
        disk_read = disk_write = recv = sent = None
        now = self._clock()
        disk, net = self._counters()
        if self._previous is not None:
            then, old_disk, old_net = self._previous
            elapsed = max(now - then, 1e-6)
            if disk is not None and old_disk is not None:
                disk_read = max(disk.read_bytes - old_disk.read_bytes, 0) / elapsed
                disk_write = max(disk.write_bytes - old_disk.write_bytes, 0) / elapsed
            if net is not None and old_net is not None:
                recv = max(net.bytes_recv - old_net.bytes_recv, 0) / elapsed
                sent = max(net.bytes_sent - old_net.bytes_sent, 0) / elapsed
        self._previous = (now, disk, net)
        return HostSample(
            cpu_percent=sum(cores) / len(cores) if cores else 0.0,
            cpu_per_core=cores,
            load_1m=load[0],
            load_5m=load[1],
            load_15m=load[2],
            memory_percent=memory.percent,
            memory_used_bytes=memory.total - memory.available,
            memory_total_bytes=memory.total,
            swap_percent=swap.percent,
            swap_used_bytes=swap.used,
            disk_path=str(self.data_dir),
            disk_percent=usage.percent,
            disk_used_bytes=usage.used,
            disk_total_bytes=usage.total,
            disk_read_bytes_per_s=disk_read,
            disk_write_bytes_per_s=disk_write,
            net_recv_bytes_per_s=recv,
            net_sent_bytes_per_s=sent,
        )

    def _counters(self) -> tuple[Any, Any]:
        disk = None
        try:
            if self._disk is not None:
                disk = psutil.disk_io_counters(perdisk=True).get(self._disk)
            if disk is None:
                disk = psutil.disk_io_counters()
        except (OSError, RuntimeError):  # no disk statistics (some containers)
            disk = None
        try:
            net = psutil.net_io_counters()
        except OSError:
            net = None
        if self._previous is None:
            self._previous = (self._clock(), disk, net)
        return disk, net


def _existing(path: Path) -> Path:
    """The path, or its nearest existing parent (the data folder may not exist yet)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _disk_name(path: Path) -> str | None:
    """The block device (as ``disk_io_counters(perdisk=True)`` names it) holding ``path``."""
    target = str(_existing(path).resolve())
    best = None
    try:
        partitions = psutil.disk_partitions(all=False)
    except OSError:
        return None
    for part in partitions:
        mount = part.mountpoint.rstrip("/") or "/"
        inside = target == mount or target.startswith(mount + "/") or mount == "/"
        if inside and (best is None or len(mount) > len(best[0])):
            best = (mount, part.device)
    if best is None or not best[1].startswith("/dev/"):
        return None
    return str(os.path.basename(os.path.realpath(best[1])))
