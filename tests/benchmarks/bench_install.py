"""Figures of the installable app (run after ``bash packaging/build.sh``):
``python -m tests.benchmarks.bench_install``.

- Bundle size, installed and compressed, against a hello-world PySide6 window frozen by the
  same PyInstaller here (the floor), and what the bundle spends its megabytes on.
- Start to first paint of the frozen panel against the same panel from the venv (both
  offscreen, both told by the panel's own "the window is painted" log line; warm: the
  files are in the page cache after the first round, which is not counted).
- ``stack up`` to both services ready, frozen against the venv (the built-in runner).
Medians of interleaved rounds; results also go to ``.benchmarks/install.json``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from tests.benchmarks import save_results
from tests.fakes.ollama_double import free_port

REPO = Path(__file__).resolve().parents[2]
FROZEN = REPO / "build" / "frozen" / "elite-coding-assistant"
VENV_PANEL = Path(sys.executable).with_name("elite-panel")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
HELLO = textwrap.dedent("""
    import sys
    from PySide6.QtWidgets import QApplication, QMainWindow
    app = QApplication(sys.argv)
    window = QMainWindow()
    window.show()
    sys.exit(0 if "--exit" in sys.argv else app.exec())
""")


def size_mb(folder: Path) -> float:
    """Bytes on disk of the files under ``folder`` (a symbolic link counts once, as a link)."""
    files = (f for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
    return sum(f.stat().st_size for f in files) / 1e6


def compressed_mb(folder: Path, work: Path) -> float:
    target = work / f"{folder.name}.tar.gz"
    subprocess.run(["tar", "-C", str(folder.parent), "-czf", str(target), folder.name], check=True)
    return target.stat().st_size / 1e6


def spending(folder: Path, top: int = 12) -> list[tuple[str, float]]:
    """The largest entries of the bundle's ``_internal`` folder, in MB."""
    internal = folder / "_internal"
    sizes = []
    for entry in internal.iterdir():
        mb = size_mb(entry) if entry.is_dir() else entry.lstat().st_size / 1e6
        sizes.append((entry.name, mb))
    return sorted(sizes, key=lambda item: -item[1])[:top]


def hello_bundle(work: Path) -> Path:
    script = work / "hello.py"
    script.write_text(HELLO)
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pyinstaller")),
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "build"),
            "--specpath",
            str(work),
            str(script),
        ],
        check=True,
        capture_output=True,
    )
    return work / "dist" / "hello"


def first_paint(command: list[str], env: dict[str, str]) -> float:
    """Seconds from the start of ``command`` to its "the window is painted" log line."""
    start = time.perf_counter()
    proc = subprocess.Popen([*command, "-v"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "the window is painted" in line:
                return time.perf_counter() - start
        raise RuntimeError(f"{command}: no first paint (exit {proc.wait()})")
    finally:
        proc.kill()
        proc.wait()


def stack_up(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [*command, "stack", "up", "--runner", "builtin"], env=env, check=True, capture_output=True
    )
    took = time.perf_counter() - start
    subprocess.run([*command, "stack", "down"], env=env, check=True, capture_output=True)
    return took


def main() -> int:
    if not (FROZEN / "elite-coding-assistant").exists():
        sys.stderr.write("no frozen app: run bash packaging/build.sh first\n")
        return 1
    work = Path(tempfile.mkdtemp(prefix="elite-bench-install-"))
    try:
        hello = hello_bundle(work)
        results: dict[str, object] = {
            "bundle_mb": size_mb(FROZEN),
            "bundle_gz_mb": compressed_mb(FROZEN, work),
            "hello_mb": size_mb(hello),
            "hello_gz_mb": compressed_mb(hello, work),
            "spending_mb": spending(FROZEN),
        }
        home = work / "home"
        (home / "config" / "profiles").mkdir(parents=True)
        (home / "config" / "profiles" / "default.toml").write_text("")
        env = {
            **os.environ,
            "ELITE_HOME": str(home),
            "QT_QPA_PLATFORM": "offscreen",
            "ELITE_ASSISTANT__PORT": str(free_port()),
            "ELITE_RUNNER__PORT": str(free_port()),
        }
        env.pop("PYTHONPATH", None)
        frozen, venv = [str(FROZEN / "elite-coding-assistant")], [str(VENV_PANEL)]
        first_paint(frozen, env), first_paint(venv, env)  # (warm-up: not counted)
        paints: dict[str, list[float]] = {"frozen": [], "venv": []}
        ups: dict[str, list[float]] = {"frozen": [], "venv": []}
        for _ in range(ROUNDS):
            paints["frozen"].append(first_paint(frozen, env))
            paints["venv"].append(first_paint(venv, env))
        for _ in range(max(3, ROUNDS // 2)):
            ups["frozen"].append(stack_up(frozen, env))
            ups["venv"].append(stack_up(venv, env))
        for kind in ("frozen", "venv"):
            results[f"paint_{kind}_s"] = statistics.median(paints[kind])
            results[f"stack_up_{kind}_s"] = statistics.median(ups[kind])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    paint_ratio = results["paint_frozen_s"] / results["paint_venv_s"]  # type: ignore[operator]
    up_ratio = results["stack_up_frozen_s"] / results["stack_up_venv_s"]  # type: ignore[operator]
    lines = [
        f"machine: {os.cpu_count()} CPUs; medians of {ROUNDS}",
        f"bundle installed:    {results['bundle_mb']:.0f} MB   (hello-world PySide6: "
        f"{results['hello_mb']:.0f} MB)",
        f"bundle .tar.gz:      {results['bundle_gz_mb']:.0f} MB   (hello-world PySide6: "
        f"{results['hello_gz_mb']:.0f} MB)",
        "largest parts:       "
        + ", ".join(f"{name} {mb:.0f}" for name, mb in results["spending_mb"]),  # type: ignore[attr-defined]
        f"start -> first paint: frozen {results['paint_frozen_s']:.2f} s, venv "
        f"{results['paint_venv_s']:.2f} s, ratio {paint_ratio:.2f}x (aim <= 1.2x)",
        f"stack up -> ready:    frozen {results['stack_up_frozen_s']:.2f} s, venv "
        f"{results['stack_up_venv_s']:.2f} s, ratio {up_ratio:.2f}x (aim <= 1.2x)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    save_results("install", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
