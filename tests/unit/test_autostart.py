"""The "Start at login" entry: written, read back, removed; a valid desktop entry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from elite_panel.core import autostart
from elite_panel.core.autostart import HIDDEN, START_STACK, Autostart


def test_the_entry_is_written_read_back_and_removed(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    path = tmp_path / "autostart" / "elite-coding-assistant.desktop"
    assert autostart.read(env) == Autostart(False)
    autostart.write(Autostart(True, start_stack=True), env)
    exec_line = next(line for line in path.read_text().splitlines() if line.startswith("Exec="))
    assert exec_line.split()[-2:] == [HIDDEN, START_STACK]
    assert autostart.read(env) == Autostart(True, start_stack=True)
    autostart.write(Autostart(True), env)
    assert autostart.read(env) == Autostart(True, start_stack=False)
    autostart.write(Autostart(False), env)
    assert not path.exists() and autostart.read(env) == Autostart(False)


def test_the_entry_is_a_valid_desktop_file(tmp_path: Path) -> None:
    if not shutil.which("desktop-file-validate"):
        pytest.skip("desktop-file-validate is not installed (desktop-file-utils)")
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    autostart.write(Autostart(True), env)
    done = subprocess.run(
        ["desktop-file-validate", str(autostart.entry_path(env))], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_home_or_xdg_config_home_the_user_config_folder_is_used() -> None:
    assert autostart.entry_path({"HOME": "/home/u"}) == Path(
        "/home/u/.config/autostart/elite-coding-assistant.desktop"
    )
