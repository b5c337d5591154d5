""" "Start at login": an XDG autostart entry that opens the panel in the tray at login.

The entry is ``$XDG_CONFIG_HOME/autostart/elite-coding-assistant.desktop`` (``~/.config``
by default); it runs this installation's own command with ``--hidden`` (the tray, no
window) and, when asked, ``--start-stack``. Removing the entry is the way to turn it off.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from elite_panel import APP_NAME
from elite_panel.core.launch import frozen
from embedded_server.backups.files import write_atomic

HIDDEN = "--hidden"
START_STACK = "--start-stack"


@dataclass(frozen=True)
class Autostart:
    """Whether the panel starts at login, and whether it then brings the stack up."""

    enabled: bool
    start_stack: bool = False


def entry_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(config) / "autostart" / f"{APP_NAME}.desktop"


def launcher() -> str:
    """The command that starts this installation's panel (quoted for a desktop entry)."""
    if frozen():
        command = [sys.executable]  # the bundle's executable: /opt/..., ~/.local/lib/...
    else:
        script = Path(sys.executable).with_name("elite-panel")
        found = script if script.exists() else shutil.which("elite-panel")
        command = [str(found)] if found else [sys.executable, "-m", "elite_panel"]
    return " ".join(f'"{part}"' if " " in part else part for part in command)


def read(environ: Mapping[str, str] | None = None) -> Autostart:
    path = entry_path(environ)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return Autostart(False)
    exec_line = next((line for line in text.splitlines() if line.startswith("Exec=")), "")
    return Autostart(True, START_STACK in exec_line.split())


def write(choice: Autostart, environ: Mapping[str, str] | None = None) -> None:
    """Write the entry for ``choice``, or remove it when the choice is off."""
    path = entry_path(environ)
    if not choice.enabled:
        path.unlink(missing_ok=True)
        return
    flags = f" {HIDDEN}" + (f" {START_STACK}" if choice.start_stack else "")
    write_atomic(
        path,
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Elite Coding Assistant\n"
        "Comment=The coding assistant's panel, in the tray\n"
        f"Exec={launcher()}{flags}\n"
        f"Icon={APP_NAME}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n",
        mode=0o644,
    )
