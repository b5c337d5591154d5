"""The result of the last scheduled backup, as the supervisor leaves it for the panel.

Light on purpose (no pydantic): the panel reads it from start-up on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from elite_panel.core.paths import AppPaths


def status_file(paths: AppPaths) -> Path:
    return paths.state / "last_backup.json"


def read_status(paths: AppPaths) -> dict[str, Any] | None:
    try:
        data = json.loads(status_file(paths).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
