"""How the supervisor runs each service of the local stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elite_panel.stack.containers import ContainerSpec


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
