"""A team's server at one look: whether it is ready, its version, who the key is, its
pool's runners and (for the admin token) what each key used, or why it did not answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from elite_panel.client.assistant import AssistantClient
from elite_panel.client.records import KeyUse, Runner, ServerInfo
from elite_panel.core.errors import EliteError


@dataclass(frozen=True)
class RemoteState:
    """One look at a remote profile's server.

    ``info`` is None until the server has answered once; ``error`` says what failed, with
    what to do ("" when all answered); ``usage_error`` why the admin's usage is missing (an
    older server).
    """

    url: str
    ready: bool = False
    error: str = ""
    checks: dict[str, Any] = field(default_factory=dict)
    info: ServerInfo | None = None
    runners: tuple[Runner, ...] = ()
    usage: tuple[KeyUse, ...] = ()
    usage_error: str = ""

    @property
    def admin(self) -> bool:
        """Whether the panel holds the server's admin token (known once it answered)."""
        return self.info is not None and self.info.admin


async def look(client: AssistantClient, url: str) -> RemoteState:
    """One look at the server: ``/ready``, ``/api/info`` and ``/api/runners`` together, and
    for the admin token what each caller used."""
    try:  # (the client's timeout bounds each request, and says so when it passes)
        ready, info, runners = await asyncio.gather(
            client.readiness(), client.info(), client.runners()
        )
    except EliteError as exc:
        return RemoteState(url, error=str(exc))
    usage: list[KeyUse] = []
    usage_error = ""
    if info.admin:
        try:
            usage = await client.usage()
        except EliteError as exc:  # an older server: no usage to show
            usage_error = str(exc)
    return RemoteState(
        url,
        ready=ready.status == "ready",
        checks=ready.checks,
        info=info,
        runners=tuple(runners),
        usage=tuple(usage),
        usage_error=usage_error,
    )
