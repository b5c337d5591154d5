"""Plain-text rendering of a sample (its JSON form) for ``elite-panel metrics``."""

from __future__ import annotations

import math
from typing import Any

_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1000 or unit == _UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def rate_and_time_left(done: float, total: float, elapsed_s: float) -> str:
    """A transfer's speed and time left so far: ``12.3 MB/s, about 4 s left``."""
    speed = done / max(elapsed_s, 1e-3)
    left = (total - done) / speed if speed else 0
    return f"{human_bytes(speed)}/s, about {left:.0f} s left"


def gpu_placement(share: float) -> str:
    """Where a loaded model sits, from the share of it in GPU memory (``models ps``, the
    Models page)."""
    return "100% GPU" if share >= 1 else f"{share:.0%} GPU / {1 - share:.0%} CPU"


def figure(value: float | None, pattern: str) -> str:
    """A figure at a glance: ``value`` in ``pattern``, or "-" when there is none (or NaN)."""
    return "-" if value is None or math.isnan(value) else pattern.format(value)


def _num(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def format_sample(sample: dict[str, Any]) -> str:
    host = sample["host"]
    lines = [
        f"host     CPU {_num(host['cpu_percent'], ' %')} ({len(host['cpu_per_core'])} cores)"
        f"  load {host['load_1m']:.2f}  RAM {_num(host['memory_percent'], ' %')}"
        f" ({human_bytes(host['memory_used_bytes'])} of {human_bytes(host['memory_total_bytes'])})"
        f"  swap {_num(host['swap_percent'], ' %')}",
        f"disk     {_num(host['disk_percent'], ' %')} of {human_bytes(host['disk_total_bytes'])}"
        f" ({host['disk_path']})  read {human_bytes(host['disk_read_bytes_per_s'])}/s"
        f"  write {human_bytes(host['disk_write_bytes_per_s'])}/s"
        f"  net in {human_bytes(host['net_recv_bytes_per_s'])}/s"
        f" out {human_bytes(host['net_sent_bytes_per_s'])}/s",
    ]
    if not sample["gpus"]:
        lines.append(f"gpu      none: {sample['gpu_unavailable_reason']}")
    owners = {pid: s["name"] for s in sample["services"] for pid in s["pids"]}
    for gpu in sample["gpus"]:
        lines.append(
            f"gpu {gpu['index']}    {gpu['name']}: {_num(gpu['utilization_percent'], ' %', 0)}"
            f"  VRAM {human_bytes(gpu['memory_used_bytes'])} of"
            f" {human_bytes(gpu['memory_total_bytes'])} ({_num(gpu['memory_percent'], ' %')})"
            f"  {_num(gpu['temperature_c'], ' °C', 0)}  {_num(gpu['power_w'], ' W', 0)}"
            f" of {_num(gpu['power_limit_w'], ' W', 0)}  fan {_num(gpu['fan_percent'], ' %', 0)}"
            f"  SM {_num(gpu['sm_clock_mhz'], ' MHz', 0)}"
            f"  mem {_num(gpu['memory_clock_mhz'], ' MHz', 0)}"
        )
        for proc in gpu["processes"]:
            owner = owners.get(proc["pid"], "")
            lines.append(
                f"           pid {proc['pid']}: {human_bytes(proc['used_memory_bytes'])}"
                + (f" ({owner})" if owner else "")
            )
    for svc in sample["services"]:
        gpu_memory = svc.get("gpu_memory_bytes")
        lines.append(
            f"{svc['name']:<9}pid {svc['pid']}  CPU {_num(svc['cpu_percent'], ' %')}"
            f"  RSS {human_bytes(svc['rss_bytes'])}  threads {svc['threads']}"
            f"  fds {svc['open_files']}  processes {len(svc['pids'])}"
            + (f"  VRAM {human_bytes(gpu_memory)}" if gpu_memory else "")
        )
    if not sample["services"]:
        lines.append("services none running")
    for model in sample["models"]:
        share = model.get("gpu_fraction")
        where = "" if share is None else f"  {share * 100:.0f} % in VRAM"
        lines.append(f"model    {model['name']}  {human_bytes(model['size_bytes'])}{where}")
    server = sample["server"]
    if server:
        p95 = server["latency_p95_s"]
        ttft = server["time_to_first_token_s"]
        lines.append(
            f"server   {_num(server['requests_per_s'], ' req/s')}"
            f"  p95 {_num(p95 * 1000 if p95 is not None else None, ' ms', 0)}"
            f"  {_num(server['tokens_per_s'], ' tok/s')}"
            f"  first token {_num(ttft * 1000 if ttft is not None else None, ' ms', 0)}"
            f"  streams {_num(server['active_streams'], '', 0)}"
            f"  backend {'up' if server['backend_up'] else 'down'}"
        )
    return "\n".join(lines) + "\n"
