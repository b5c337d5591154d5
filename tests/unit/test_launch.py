"""How the panel starts its own modules: ``python -m`` from a venv, the bundle's own
executable with ``--run-module`` in a frozen app (the dispatch is tested unfrozen here; the
frozen bundle itself in tests/packaging)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from elite_panel.core.launch import RUN_MODULE, module_argv
from embedded_server import __version__ as server_version


def test_a_venv_runs_modules_with_python_dash_m() -> None:
    assert module_argv("embedded_server", "--version") == (
        sys.executable,
        "-m",
        "embedded_server",
        "--version",
    )


def test_a_frozen_app_runs_modules_through_its_own_executable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/elite-coding-assistant/elite-coding-assistant")
    assert module_argv("elite_panel.daemon") == (
        "/opt/elite-coding-assistant/elite-coding-assistant",
        RUN_MODULE,
        "elite_panel.daemon",
    )


def test_the_entry_point_dispatches_run_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "elite_panel", RUN_MODULE, "embedded_server", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"elite-assistant-server {server_version}"
