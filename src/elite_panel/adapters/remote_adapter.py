"""A team's server as the panel follows it (a remote profile): readiness, version, who the
key is, and the pool's runners, asked again every few seconds off the UI thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.tasks import TaskGroup, off_the_window
from elite_panel.core.errors import EliteError

if TYPE_CHECKING:
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.client.server_state import RemoteState
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
    stateChanged(object): the server at its latest look, a
        :class:`~elite_panel.client.server_state.RemoteState` (None: no server is followed).
    """

    credentials = Signal(str, str, object)
    unavailable = Signal(str)
    stateChanged = Signal(object)

    def __init__(self, secrets: Callable[[], SecretStore], parent: QObject | None = None) -> None:
        """``secrets``: the store the key is read from, built on first use."""
        super().__init__(parent)
        self.secrets = secrets
        self.state: RemoteState | None = None
        self._tasks = TaskGroup("remote")

    def follow(self, profile: Profile) -> None:
        """Follow ``profile``'s server (the one followed until now is left)."""
        self._tasks.start("follow", self._follow(profile))

    def stop(self) -> None:
        """Follow no server any more (``stateChanged`` with None)."""
        self._tasks.cancel("follow")
        self._publish(None)

    def close(self) -> None:
        self._tasks.cancel_all()

    async def _follow(self, profile: Profile) -> None:
        client_class, remote_credentials, state, look = await off_the_window(_client_parts)
        url = profile.remote.url
        self._publish(state(url, error="connecting…"))
        try:  # the keyring may take a moment: off the UI thread
            url, key, verify = await asyncio.to_thread(remote_credentials, profile, self.secrets())
        except EliteError as exc:
            self._publish(state(url, error=str(exc)))
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

    def _publish(self, state: RemoteState | None) -> None:
        self.state = state
        self.stateChanged.emit(state)


def _client_parts() -> tuple[
    type[AssistantClient],
    Callable[[Profile, SecretStore], Any],
    type[RemoteState],
    Callable[[AssistantClient, str], Awaitable[RemoteState]],
]:
    """The HTTP client, the reading of a remote profile's credentials and the look at its
    server (httpx with them: imported off the window)."""
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.client.remote import remote_credentials
    from elite_panel.client.server_state import RemoteState, look

    return AssistantClient, remote_credentials, RemoteState, look
