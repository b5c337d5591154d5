"""Figures of the resource dashboard.

Run: ``python -m tests.benchmarks.bench_monitor`` (also part of ``bootstrap.sh bench``).

- one sampling tick (host + two service trees + GPU through the NVML double), against a
  naive sampler that walks every process on the machine each tick, same run;
- CPU of the supervisor sampling the real stack every second, against the same supervisor
  sampling once a minute (its slowest setting), same run; aim <= 1 % of a core;
- CPU of the panel with the dashboard visible and redrawn every second for
  ``BENCH_PANEL_S`` (60) seconds, against the panel on its chat page, same run; aim <= 3 %;
- memory of 24 hours of history for the series a GPU machine produces; aim <= 50 MB.

Medians are printed and saved to ``.benchmarks/monitor.json``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import psutil

from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.monitor.collector import Collector
from elite_panel.monitor.history import History
from elite_panel.monitor.nvml import GpuReader
from elite_panel.monitor.sample import flatten
from tests.benchmarks import save_results
from tests.benchmarks.bench_stack import Stack
from tests.fakes.nvml_double import ReplayNvml

TICKS = 50
PANEL_S = float(os.environ.get("BENCH_PANEL_S", "60"))
DAEMON_S = float(os.environ.get("BENCH_DAEMON_S", "30"))
# A two-process "service": a parent with one child.
WORKER = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "time.sleep(600)\n"
)


def naive_tick(primed: dict[int, psutil.Process]) -> None:
    """What a simple dashboard does: every process's CPU and memory, every tick."""
    for proc in psutil.process_iter():
        try:
            known = primed.setdefault(proc.pid, proc)
            known.cpu_percent()
            known.memory_info()
            known.num_threads()
        except psutil.Error:
            continue


def bench_tick() -> dict[str, float]:
    workers = [subprocess.Popen([sys.executable, "-c", WORKER]) for _ in range(2)]
    try:
        statuses = [
            ServiceStatus(name, ServiceState.READY, "external", pid=w.pid)
            for name, w in zip(("runner", "assistant"), workers, strict=True)
        ]

        async def ours() -> list[float]:
            collector = Collector(Path.home(), gpu=GpuReader(ReplayNvml()))
            await collector.sample(statuses)
            times = []
            for _ in range(TICKS):
                t0 = time.perf_counter()
                await collector.sample(statuses)
                times.append((time.perf_counter() - t0) * 1000)
            await collector.aclose()
            return times

        mine = asyncio.run(ours())
        primed: dict[int, psutil.Process] = {}
        naive_tick(primed)
        naive = []
        for _ in range(TICKS):
            t0 = time.perf_counter()
            naive_tick(primed)
            naive.append((time.perf_counter() - t0) * 1000)
        return {
            "tick_ms": statistics.median(mine),
            "naive_tick_ms": statistics.median(naive),
            "processes_on_machine": len(psutil.pids()),
        }
    finally:
        for worker in workers:
            for proc in psutil.Process(worker.pid).children(recursive=True):
                proc.kill()
            worker.kill()
            worker.wait()


def daemon_cpu(interval: float) -> tuple[float, float]:
    """CPU % of a core and RSS (MB) of the supervisor sampling every ``interval`` s."""
    stack = Stack()
    stack.env["ELITE_DASHBOARD__SAMPLE_INTERVAL_S"] = str(interval)
    try:
        stack.cli("stack", "up")
        daemon = stack.daemon()
        time.sleep(2.0)  # let start-up work settle
        t0 = daemon.cpu_times()
        time.sleep(DAEMON_S)
        t1 = daemon.cpu_times()
        cpu = (t1.user + t1.system - t0.user - t0.system) / DAEMON_S * 100
        return cpu, daemon.memory_info().rss / 2**20
    finally:
        stack.close()


PANEL_CHILD = """
import asyncio, os, resource, sys, time
from pathlib import Path
import qasync
from PySide6.QtWidgets import QApplication
from elite_panel.adapters.profile_service import ProfileService
from elite_panel.adapters.monitor_adapter import MonitorAdapter
from elite_panel.app import Panel
from elite_panel.core.paths import AppPaths
from elite_panel.stack.control import ControlClient
from elite_panel.monitor.collector import Collector
from elite_panel.monitor.nvml import GpuReader
from tests.fakes.nvml_double import ReplayNvml

page, seconds = sys.argv[1], float(sys.argv[2])
app = QApplication([])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
paths = AppPaths.from_env().ensure()

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

async def main():
    monitor = MonitorAdapter(paths, ProfileService(paths, "default"), ControlClient(paths),
        collector_factory=lambda d: Collector(d, gpu=GpuReader(ReplayNvml())))
    panel = Panel(paths, "default", use_tray=False, monitor=monitor)
    panel.show(page)
    panel.check_profile()
    await asyncio.sleep(5)  # start-up and the first samples
    c0, t0 = cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    print((cpu() - c0) / (time.monotonic() - t0) * 100, flush=True)
    os._exit(0)

with loop:
    loop.run_until_complete(main())
"""


def panel_cpu(page: str) -> float:
    stack = Stack()  # only for its isolated home: no stack is started
    env = {**stack.env, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", PANEL_CHILD, page, str(PANEL_S)],
        env=env,
        capture_output=True,
        text=True,
        timeout=PANEL_S + 120,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def history_memory() -> dict[str, float]:
    gpu = GpuReader(ReplayNvml())
    sample_names = flatten_names(gpu)
    tracemalloc.start()
    history = History(1.0)
    t0 = 1_700_000_000.0
    row = dict.fromkeys(sample_names, 1.0)
    for i in range(24 * 3600):
        history.add(t0 + i, row)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "series": len(sample_names),
        "history_mb": history.nbytes / 2**20,
        "traced_peak_mb": peak / 2**20,
    }


def flatten_names(gpu: GpuReader) -> list[str]:
    """The series a machine with one GPU, a runner on it and both services produces."""

    async def one() -> list[str]:
        collector = Collector(Path.home(), gpu=gpu)
        statuses = [
            ServiceStatus("runner", ServiceState.READY, "external", pid=os.getpid()),
            ServiceStatus("assistant", ServiceState.READY, "external", pid=os.getppid()),
        ]
        sample = await collector.sample(statuses)
        await collector.aclose()
        names = set(flatten(sample)) | {
            "gpu0.vram.runner",
            "server.rps",
            "server.p95",
            "server.tps",
            "server.ttft",
            "server.streams",
        }
        return sorted(names)

    return asyncio.run(one())


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> int:
    results: dict[str, float] = {}
    results.update(bench_tick())
    say(
        f"sampling tick (host + 2 service trees + GPU double): {results['tick_ms']:.2f} ms; "
        f"naive walk of all {results['processes_on_machine']} processes: "
        f"{results['naive_tick_ms']:.2f} ms"
    )
    results.update(history_memory())
    say(
        f"24 h of history, {results['series']:.0f} series: {results['history_mb']:.1f} MB "
        f"(traced peak {results['traced_peak_mb']:.1f} MB; aim <= 50 MB)"
    )
    results["daemon_cpu_1s"], results["daemon_rss_mb"] = daemon_cpu(1.0)
    results["daemon_cpu_60s"], _ = daemon_cpu(60.0)
    say(
        f"supervisor CPU over {DAEMON_S:.0f} s sampling every 1 s: "
        f"{results['daemon_cpu_1s']:.2f} % (aim <= 1 %); every 60 s: "
        f"{results['daemon_cpu_60s']:.2f} %; its RSS {results['daemon_rss_mb']:.1f} MB"
    )
    results["panel_cpu_dashboard"] = panel_cpu("dashboard")
    results["panel_cpu_chat"] = panel_cpu("chat")
    say(
        f"panel CPU over {PANEL_S:.0f} s, dashboard visible at 1 s: "
        f"{results['panel_cpu_dashboard']:.2f} % (aim <= 3 %); on the chat page (sampling "
        f"for alerts only): {results['panel_cpu_chat']:.2f} %"
    )
    save_results("monitor", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
