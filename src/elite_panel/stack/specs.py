"""Value types describing the services of the local stack and their observable state."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elite_panel.stack.containers import ContainerSpec

SERVICE_NAMES = ("runner", "assistant")


class ServiceState(StrEnum):
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
class ServiceSpec:
    """How to run and check one service.

    Attributes:
        name: ``assistant`` or ``runner``.
        kind: ``assistant``, ``builtin``, ``ollama`` or ``external``.
        argv: the command line; ``None`` for an external service we only watch.
        port: the loopback port it listens on (checked before starting).
        url: the base URL clients use.
        health_url: polled for readiness and liveness; 2xx means healthy.
        env: extra environment for the child (may hold secrets: never persisted or logged).
        start_timeout_s: how long a start may take before it is a failure.
        container: run as a Docker container instead of ``argv``.
    """

    name: str
    kind: str
    argv: tuple[str, ...] | None
    port: int
    url: str
    health_url: str
    env: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    start_timeout_s: float = 120.0
    secrets: tuple[str, ...] = field(default=(), compare=False, repr=False)
    container: ContainerSpec | None = None

    @property
    def managed(self) -> bool:
        """Whether we start and stop it (external services are only watched)."""
        return self.argv is not None or self.container is not None


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
