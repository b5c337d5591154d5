"""A team's server as the panel follows it (a remote profile): readiness, version, who the
key is, and the pool's runners, asked again every few seconds off the UI thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.tasks import TaskGroup, off_the_window
from elite_panel.core.errors import EliteError

if TYPE_CHECKING:
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.core.profiles import Profile
    from elite_panel.core.secret_store import SecretStore

POLL_INTERVAL_S = 3.0
REQUEST_TIMEOUT_S = 10.0


class RemoteAdapter(QObject):
    """Follows the active remote profile's server.

    Signals:
    credentials(str, str, object): the server's URL, the API key and what its certificate
        is checked against, once per profile followed (for the chat's connection).
    unavailable(str): no connection can be made (no key, an unreadable CA file): why.
    stateChanged(dict): ``url``, ``ready``, ``checks``, ``version``, ``key``, ``admin``,
        ``runners``, ``usage`` (each caller's use over 7 days, for the admin token) and
        ``error`` (what failed, with what to do; "" when all answered).
    """

    credentials = Signal(str, str, object)
    unavailable = Signal(str)
    stateChanged = Signal(dict)

    def __init__(self, secrets: Callable[[], SecretStore], parent: QObject | None = None) -> None:
        """``secrets``: the store the key is read from, built on first use."""
        super().__init__(parent)
        self.secrets = secrets
        self.state: dict[str, Any] = {}
        self._tasks = TaskGroup("remote")

    def follow(self, profile: Profile) -> None:
        """Follow ``profile``'s server (the one followed until now is left)."""
        self._tasks.start("follow", self._follow(profile))

    def stop(self) -> None:
        """Follow no server any more (``stateChanged`` with an empty state)."""
        self._tasks.cancel("follow")
        self._publish({})

    def close(self) -> None:
        self._tasks.cancel_all()

    async def _follow(self, profile: Profile) -> None:
        client_class, remote_credentials = await off_the_window(_client_parts)  # (httpx)
        url = profile.remote.url
        self._publish({"url": url, "ready": False, "error": "connecting…", "runners": []})
        try:  # the keyring may take a moment: off the UI thread
            url, key, verify = await asyncio.to_thread(remote_credentials, profile, self.secrets())
        except EliteError as exc:
            self._publish({"url": url, "ready": False, "error": str(exc), "runners": []})
            self.unavailable.emit(str(exc))
            return
        self.credentials.emit(url, key, verify)
        client = client_class(url, key, timeout_s=REQUEST_TIMEOUT_S, verify=verify)
        try:
            while True:
                self._publish(await look(client, url))
                await asyncio.sleep(POLL_INTERVAL_S)
        finally:
            await client.aclose()

    def _publish(self, state: dict[str, Any]) -> None:
        self.state = state
        self.stateChanged.emit(state)


async def look(client: AssistantClient, url: str) -> dict[str, Any]:
    """One look at the server: ``/ready``, ``/api/info`` and ``/api/runners`` together, and
    for the admin token what each caller used."""
    state: dict[str, Any] = {
        "url": url,
        "ready": False,
        "error": "",
        "runners": [],
        "usage": [],
    }
    try:  # (the client's timeout bounds each request, and says so when it passes)
        ready, info, runners = await asyncio.gather(
            client.readiness(), client.info(), client.runners()
        )
    except EliteError as exc:
        state["error"] = str(exc)
        return state
    state.update(
        ready=ready.get("status") == "ready",
        checks=ready.get("checks", {}),
        version=info.get("version", ""),
        key=info.get("key"),
        admin=bool(info.get("admin")),
        runners=runners,
    )
    if state["admin"]:
        try:
            state["usage"] = await client.usage()
        except EliteError as exc:  # an older server: no usage to show
            state["usage_error"] = str(exc)
    return state


def _client_parts() -> tuple[type[AssistantClient], Callable[[Profile, SecretStore], Any]]:
    """The HTTP client and the reading of a remote profile's credentials (httpx with them)."""
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.client.remote import remote_credentials

    return AssistantClient, remote_credentials
