"""The window opens without what only its later pages need (pydantic, tomlkit, keyring,
pyqtgraph, numpy, httpx): each costs start-up time (the figure: bench_stack.py)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_the_panel_starts_without_the_heavy_libraries() -> None:
    code = (
        "import sys, elite_panel.__main__, elite_panel.app\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        ).stdout.split()
    )
    assert "PySide6" in loaded
    assert not loaded & {"pydantic", "tomlkit", "keyring", "pyqtgraph", "numpy", "httpx"}
