"""The assistant server's bearer token of one stack start: a 0600 runtime file, written by
the supervisor at each start and read by the commands and the panel (as Jupyter does)."""

from __future__ import annotations

import contextlib

from elite_panel.core.paths import AppPaths
from embedded_server.backups.files import write_atomic


def write_token(paths: AppPaths, token: str) -> None:
    paths.ensure()
    write_atomic(paths.token_file, token, mode=0o600)


def read_token(paths: AppPaths) -> str | None:
    """The token, or None when there is none (no stack started) or it cannot be read."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return paths.token_file.read_text(encoding="utf-8").strip() or None
    return None
