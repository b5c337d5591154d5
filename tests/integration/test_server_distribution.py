"""The assistant server installs and runs without the desktop: ``pip install
./embedded_server`` into a fresh virtual environment, then ``python -m embedded_server``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, wait_for
from tests.fakes.ollama_double import free_port

pytestmark = pytest.mark.slow

DESKTOP_ONLY = {"pyside6", "pyside6-essentials", "pyqtgraph", "numpy", "nvidia-ml-py", "docker"}
# (zstandard is the server's too since it backs itself up in the same archive format)
DESKTOP_ONLY |= {"keyring", "qasync", "psutil", "elite-coding-assistant"}


def test_the_server_alone_installs_and_serves(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", str(REPO / "embedded_server")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].lower() for line in listed.split()}
    assert "elite-assistant-server" in names
    assert not names & DESKTOP_ONLY, names & DESKTOP_ONLY
    qt = subprocess.run([python, "-c", "import PySide6"], capture_output=True, text=True)
    assert qt.returncode != 0 and "No module named 'PySide6'" in qt.stderr

    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "PYTHON"))},
        "ASSISTANT_PORT": str(port),
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "ASSISTANT_BACKEND_URL": f"http://127.0.0.1:{free_port()}",  # no runner: still up
    }
    server = subprocess.Popen(
        [python, "-m", "embedded_server"], cwd=tmp_path, env=env, stderr=subprocess.PIPE
    )
    try:

        def health() -> dict[str, object] | None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            except httpx.HTTPError:
                return None
            return response.json() if response.status_code == 200 else None

        answer = wait_for(health, 60, "the server alone to answer /health")
        assert answer["status"] == "ok"  # type: ignore[index]
    finally:
        server.terminate()
        server.wait(timeout=15)
    # Its backups work from the installed distribution (every subpackage in the wheel).
    backup = subprocess.run(
        [python, "-m", "embedded_server", "backup", "create"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert backup.returncode == 0, backup.stderr
    assert "elite-backup-" in backup.stdout
