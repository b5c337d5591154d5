"""The supervisor daemon stays small at rest: it never imports what only the window, the
commands, a backup or a keyring read need (the figure: tests/benchmarks/bench_stack.py)."""

from __future__ import annotations

import subprocess
import sys


def test_the_daemon_imports_nothing_heavy() -> None:
    code = (
        "import sys, elite_panel.daemon.__main__, elite_panel.backup.schedule\n"
        "import elite_panel.stack.supervisor, elite_panel.monitor.collector\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not loaded & {"numpy", "keyring", "sqlalchemy", "rich", "click", "pygments"}
    assert not loaded & {"PySide6", "pyqtgraph", "qasync"}
    # of the server distribution, only its small shared modules (files), not the server
    assert not loaded & {"fastapi", "starlette", "uvicorn", "alembic", "prometheus_client"}
