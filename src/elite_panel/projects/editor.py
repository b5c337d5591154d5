"""Opening a cited file at its line in the user's editor.

The profile's ``projects.editor`` (a command with ``{file}`` and ``{line}``) if set; else
``$VISUAL`` with the line given the way that editor takes it; else VS Code (``code -g``)
when it is on the PATH; else the desktop's default application for the file
(``xdg-open``, ``open`` on macOS), which cannot be told the line.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from elite_panel.core.errors import EliteError

# How editors take a line: "+LINE FILE" (terminal editors), "FILE:LINE", or "-g FILE:LINE".
PLUS_LINE = {"vim", "nvim", "vi", "nano", "emacs", "emacsclient", "micro", "kak", "hx", "gedit"}
COLON_LINE = {"subl", "zed", "sublime_text"}
GOTO_LINE = {"code", "codium", "code-insiders", "cursor"}


def editor_command(
    file: Path, line: int, configured: str = "", environ: Mapping[str, str] | None = None
) -> list[str]:
    """The command that opens ``file`` at ``line``."""
    environ = os.environ if environ is None else environ
    if configured:
        return [part.format(file=file, line=line) for part in shlex.split(configured)]
    visual = environ.get("VISUAL", "")
    if visual:
        words = shlex.split(visual)
        name = Path(words[0]).name
        if name in PLUS_LINE:
            return [*words, f"+{line}", str(file)]
        if name in COLON_LINE:
            return [*words, f"{file}:{line}"]
        if name in GOTO_LINE:
            return [*words, "-g", f"{file}:{line}"]
        return [*words, str(file)]
    if shutil.which("code"):
        return ["code", "-g", f"{file}:{line}"]
    return ["open" if sys.platform == "darwin" else "xdg-open", str(file)]


def open_in_editor(file: Path, line: int, configured: str = "") -> list[str]:
    """Start the editor on ``file`` at ``line`` (not waited for); the command run."""
    if not file.is_file():
        raise EliteError(f"{file} is not there any more")
    command = editor_command(file, line, configured)
    try:
        subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise EliteError(
            f"could not start {command[0]} ({exc}): set projects.editor to a command with "
            "{file} and {line}"
        ) from exc
    return command
