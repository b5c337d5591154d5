"""NVIDIA GPUs through NVML (nvidia-ml-py), the library behind ``nvidia-smi``.

NVML is initialised lazily, on the first sample.  Every per-device query goes through
:func:`query`, which turns "not supported" (a fan on a passively cooled data-centre GPU,
power on some laptops) into ``None``; only :meth:`GpuReader.sample` decides that there is no
GPU at all, and then it says why (no library, no driver, no device) instead of raising.

The NVML module is injected, so tests replay recorded values through a double
(``tests/fakes/nvml_double.py``) and a recorder captures them from a real GPU.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# NVML return codes (nvml.h) that mean "this value does not exist here".
# NOT_SUPPORTED, NO_PERMISSION, NOT_FOUND, FUNCTION_NOT_FOUND
_ABSENT_CODES = frozenset({3, 4, 6, 13})
_REASONS = {
    9: "the NVIDIA driver is not loaded",  # DRIVER_NOT_LOADED
    12: "the NVML library (libnvidia-ml.so) was not found: no NVIDIA driver is installed",
    18: "the NVIDIA driver does not match the NVML library (reboot after a driver update?)",
}
TEMPERATURE_GPU = 0  # NVML_TEMPERATURE_GPU
CLOCK_SM = 1  # NVML_CLOCK_SM
CLOCK_MEM = 2  # NVML_CLOCK_MEM


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU (``nvidia-smi``'s process table)."""

    pid: int
    used_memory_bytes: int | None


@dataclass(frozen=True)
class GpuSample:
    """One GPU at one moment; ``None`` where the device does not report the value.

    Attributes:
        utilization_percent: ``nvidia-smi --query-gpu=utilization.gpu``.
        memory_used_bytes / memory_total_bytes: ``memory.used`` / ``memory.total``.
        temperature_c: ``temperature.gpu``.
        power_w / power_limit_w: ``power.draw`` / ``enforced.power.limit``.
        fan_percent: ``fan.speed`` (absent on passively cooled GPUs).
        sm_clock_mhz / memory_clock_mhz: ``clocks.sm`` / ``clocks.mem``.
        processes: compute and graphics processes with their memory.
    """

    index: int
    name: str
    uuid: str | None
    utilization_percent: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    temperature_c: float | None
    power_w: float | None
    power_limit_w: float | None
    fan_percent: float | None
    sm_clock_mhz: float | None
    memory_clock_mhz: float | None
    processes: tuple[GpuProcess, ...] = field(default=())

    @property
    def memory_percent(self) -> float | None:
        if self.memory_used_bytes is None or not self.memory_total_bytes:
            return None
        return 100.0 * self.memory_used_bytes / self.memory_total_bytes


@dataclass(frozen=True)
class GpuReading:
    """All GPUs, or the reason there are none to show."""

    gpus: tuple[GpuSample, ...]
    unavailable_reason: str | None = None


def query(nvml: Any, function: Callable[..., T], *args: Any) -> T | None:
    """``function(*args)``, or ``None`` when NVML says the value is not available here."""
    try:
        return function(*args)
    except nvml.NVMLError as exc:
        if getattr(exc, "value", None) in _ABSENT_CODES:
            return None
        raise


class GpuReader:
    """Samples every NVIDIA GPU; thread-safe, blocking (run it off the event loop).

    Args:
        nvml: the ``pynvml`` module or a double with the same functions; ``None`` imports
            ``pynvml`` on first use.
    """

    def __init__(self, nvml: Any | None = None) -> None:
        self._nvml: Any = nvml
        self._handles: list[Any] | None = None
        self._reason: str | None = None
        self._lock = threading.Lock()

    def sample(self) -> GpuReading:
        with self._lock:
            if self._handles is None and self._reason is None:
                self._open()
            if self._reason is not None:
                return GpuReading((), self._reason)
            assert self._handles is not None
            try:
                return GpuReading(tuple(self._read(i, h) for i, h in enumerate(self._handles)))
            except self._nvml.NVMLError as exc:  # e.g. GPU_IS_LOST: say so, try again later
                log.warning("NVML query failed: %s", exc)
                self._close()
                return GpuReading((), f"NVML query failed: {exc}")

    def close(self) -> None:
        with self._lock:
            self._close()

    def _open(self) -> None:
        if self._nvml is None:
            try:
                import pynvml
            except ImportError:
                self._reason = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
                return
            self._nvml = pynvml
        nvml = self._nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            code = getattr(exc, "value", -1)
            self._reason = _REASONS.get(code, f"NVML could not start: {exc}")
            log.debug("no GPU sampling: %s", self._reason)
            return
        count = nvml.nvmlDeviceGetCount()
        if count == 0:
            self._reason = "no NVIDIA GPU found"
            nvml.nvmlShutdown()
            return
        self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]

    def _close(self) -> None:
        if self._handles is not None:
            self._handles = None
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                log.debug("nvmlShutdown failed", exc_info=True)

    def _read(self, index: int, handle: Any) -> GpuSample:
        nvml = self._nvml

        def ask(name: str, *args: Any) -> Any:
            return query(nvml, getattr(nvml, name), handle, *args)

        utilization = ask("nvmlDeviceGetUtilizationRates")
        memory = ask("nvmlDeviceGetMemoryInfo")
        power = ask("nvmlDeviceGetPowerUsage")
        limit = ask("nvmlDeviceGetEnforcedPowerLimit")
        processes: dict[int, GpuProcess] = {}
        for function in (
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetGraphicsRunningProcesses",
        ):
            for proc in ask(function) or ():
                used = proc.usedGpuMemory
                known = processes.get(proc.pid)
                if known is None or (used or 0) > (known.used_memory_bytes or 0):
                    processes[proc.pid] = GpuProcess(proc.pid, used)
        return GpuSample(
            index=index,
            name=_text(ask("nvmlDeviceGetName")) or f"GPU {index}",
            uuid=_text(ask("nvmlDeviceGetUUID")),
            utilization_percent=_number(utilization.gpu if utilization else None),
            memory_used_bytes=memory.used if memory else None,
            memory_total_bytes=memory.total if memory else None,
            temperature_c=_number(ask("nvmlDeviceGetTemperature", TEMPERATURE_GPU)),
            power_w=power / 1000 if power is not None else None,
            power_limit_w=limit / 1000 if limit is not None else None,
            fan_percent=_number(ask("nvmlDeviceGetFanSpeed")),
            sm_clock_mhz=_number(ask("nvmlDeviceGetClockInfo", CLOCK_SM)),
            memory_clock_mhz=_number(ask("nvmlDeviceGetClockInfo", CLOCK_MEM)),
            processes=tuple(processes.values()),
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
