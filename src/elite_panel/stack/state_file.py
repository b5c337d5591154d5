"""The supervisor's record of what runs, so that a later supervisor can adopt or clean up.

Holds pids with their kernel start times (a pid alone can be reused), ports, the runner
kind and the profile the stack was started with; never the token or any secret.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from embedded_server.backups.files import write_atomic

log = logging.getLogger(__name__)

STATE_VERSION = 1


@dataclass(frozen=True)
class RecordedProcess:
    """A service process as the state file remembers it."""

    pid: int
    create_time: float
    port: int
    kind: str


@dataclass
class StackRecord:
    """What the supervisor started, for a later supervisor to adopt."""

    daemon_pid: int
    runner_kind: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    services: dict[str, RecordedProcess] = field(default_factory=dict)


def write_state(path: Path, record: StackRecord) -> None:
    """Write atomically (temp file, fsync, rename) with owner-only permissions."""
    write_atomic(path, json.dumps({"version": STATE_VERSION, **asdict(record)}, indent=2))


def read_state(path: Path) -> StackRecord | None:
    """The recorded stack, or ``None`` when there is none or it is unreadable (logged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {data.get('version')!r}")
        services = {
            name: RecordedProcess(**proc) for name, proc in data.get("services", {}).items()
        }
        return StackRecord(
            daemon_pid=int(data["daemon_pid"]),
            runner_kind=data.get("runner_kind"),
            profile=dict(data.get("profile") or {}),
            services=services,
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring unreadable state file %s: %s", path, exc)
        return None
