"""The window opens without what only its later pages need (pydantic, tomlkit, keyring,
pyqtgraph, numpy, httpx), and paints before asyncio and the adapters: each costs start-up
time (the figures: bench_stack.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def printed(code: str, env: dict[str, str] | None = None) -> list[str]:
    """The words ``code`` prints in a new interpreter (a fresh set of imported modules)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})},
        timeout=60,
    ).stdout.split()


def test_the_panel_starts_without_the_heavy_libraries() -> None:
    code = (
        "import sys, elite_panel.__main__, elite_panel.app\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = set(printed(code))
    assert "PySide6" in loaded
    assert not loaded & {"pydantic", "tomlkit", "keyring", "pyqtgraph", "numpy", "httpx"}


WATCH_THE_START = """
import functools, os, sys
import elite_panel.__main__, elite_panel.gui
import PySide6.QtCore
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from elite_panel.ui.main_window import MainWindow
HEAVY = ("asyncio", "qasync", "elite_panel.adapters", "elite_panel.core.profile_store")
shell = MainWindow.shell
def watched_shell():
    window = shell()
    def painted():
        made = [m for m in HEAVY if m in sys.modules]
        window_colour = QApplication.palette().color(QPalette.ColorRole.Window)
        print(",".join(made) or "none", "dark" if window_colour.lightness() < 128 else "light")
    window.firstPainted.connect(painted)
    return window
MainWindow.shell = watched_shell
def shown(panel):
    page = panel.window.page(panel.window.current_page())
    print(type(page).__name__, QApplication.style().name(), flush=True)
    os._exit(0)
elite_panel.gui.run_gui = functools.partial(elite_panel.gui.run_gui, on_shown=shown)
elite_panel.__main__.main([])
"""


def test_the_window_paints_before_asyncio_and_the_adapters_then_builds_its_page(
    tmp_path: Path,
) -> None:
    """The `elite-panel` command paints its window first (sidebar, title, status line);
    the page it opens on is built once asyncio, qasync and the adapters are loaded. A first
    start paints with the desktop's scheme; later starts with the one kept (here dark, on a
    desktop without a scheme)."""
    env = {"ELITE_HOME": str(tmp_path), "QT_STYLE_OVERRIDE": "Windows"}  # Fusion wins
    first = printed(WATCH_THE_START, env)
    assert first == ["none", "light", "WelcomePage", "fusion"]
    (tmp_path / "config" / "profiles" / "default.toml").write_text("")
    (tmp_path / "config" / "window.ini").write_text("[theme]\nscheme=dark\n")
    assert printed(WATCH_THE_START, env) == ["none", "dark", "ChatPage", "fusion"]
