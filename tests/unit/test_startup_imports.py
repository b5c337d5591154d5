"""The window opens without what only its later pages need (pydantic, tomlkit, keyring,
pyqtgraph, numpy, httpx): each costs start-up time (the figure: bench_stack.py)."""

from __future__ import annotations

import os
import subprocess
import sys


def printed(code: str) -> list[str]:
    """The words ``code`` prints in a new interpreter (a fresh set of imported modules)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    ).stdout.split()


def test_the_panel_starts_without_the_heavy_libraries() -> None:
    code = (
        "import sys, elite_panel.__main__, elite_panel.app\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = set(printed(code))
    assert "PySide6" in loaded
    assert not loaded & {"pydantic", "tomlkit", "keyring", "pyqtgraph", "numpy", "httpx"}


def test_modules_imported_after_qt_are_not_read_by_its_import_hook() -> None:
    """PySide's ``__feature__`` hook reads the source of each module imported after Qt;
    the window's process puts Python's own import back (ui/qt_import.py)."""
    code = (
        "import builtins, sys, elite_panel.app\n"
        "feature = sys.modules['shibokensupport.feature']\n"
        "print(builtins.__import__ is builtins.__orig_import__,\n"
        "      'elite_panel.ui.main_window' in feature.pyside_feature_dict)\n"
    )
    assert printed(code) == ["True", "False"]
