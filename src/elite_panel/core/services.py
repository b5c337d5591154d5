"""The stack's services as everyone sees them: their names, states and status snapshots.

Value types shared by the supervisor, the sampler, the commands and the window (which
must not import one another's packages).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

SERVICE_NAMES = ("runner", "assistant")


class ServiceState(StrEnum):
    """Where a service of the stack stands."""

    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    UNHEALTHY = "unhealthy"
    CRASHED = "crashed"
    BACKOFF = "backoff"
    FAILED = "failed"
    STOPPING = "stopping"

    @property
    def is_active(self) -> bool:
        """True while the service runs or is being brought back."""
        return self not in (ServiceState.STOPPED, ServiceState.FAILED)


@dataclass(frozen=True)
class ServiceStatus:
    """A snapshot of one service, as the CLI and the panel show it."""

    name: str
    state: ServiceState
    kind: str
    pid: int | None = None
    url: str | None = None
    restarts: int = 0
    uptime_s: float | None = None
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceStatus:
        return cls(
            name=data["name"],
            state=ServiceState(data["state"]),
            kind=data.get("kind", ""),
            pid=data.get("pid"),
            url=data.get("url"),
            restarts=int(data.get("restarts", 0)),
            uptime_s=data.get("uptime_s"),
            last_error=data.get("last_error"),
        )


def stopped_statuses() -> list[ServiceStatus]:
    """What every service looks like when no supervisor runs."""
    return [ServiceStatus(name, ServiceState.STOPPED, "") for name in SERVICE_NAMES]
