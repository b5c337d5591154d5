"""Which server the panel works with: this machine's stack, or a team's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from elite_panel.adapters.chat_adapter import ChatAdapter
from elite_panel.adapters.monitor_adapter import MonitorAdapter
from elite_panel.adapters.remote_adapter import RemoteAdapter
from elite_panel.adapters.stack_adapter import StackAdapter

if TYPE_CHECKING:
    from elite_panel.core.profiles import Profile


class ServerFollower:
    """Points the adapters at the active profile's server: the local stack, or a team's
    (``[stack] mode = "remote"``); a change of profile that changes neither does nothing."""

    def __init__(
        self,
        stack: StackAdapter,
        chat: ChatAdapter,
        remote: RemoteAdapter,
        monitor: MonitorAdapter,
    ) -> None:
        self.stack, self.chat, self.remote, self.monitor = stack, chat, remote, monitor
        self._followed: str | None = None  # the remote section followed (None: local)

    def follow(self, profile: Profile) -> None:
        remote = profile.remote.model_dump_json() if profile.stack.mode == "remote" else None
        if remote == self._followed:
            return
        self._followed = remote
        url = profile.remote.url if remote else ""
        self.stack.set_remote(url)
        if remote:
            self.chat.set_remote(True, f"Connecting to the team server {url}…")
            self.remote.follow(profile)
            self.monitor.follow_remote(profile)
        else:
            self.remote.stop()
            self.chat.set_remote(False)
            self.monitor.follow_local()
