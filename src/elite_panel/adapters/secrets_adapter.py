"""The Secrets page's side of the keyring: every call in a worker thread, because a
keyring can block on an unlock prompt and the window must keep painting meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.tasks import TaskGroup
from elite_panel.core.errors import EliteError
from elite_panel.core.secret_store import SecretStore


class SecretsAdapter(QObject):
    """The Secrets page's Qt side of the secret store (keyring calls off the UI thread).

    Signals:
    listed(list[SecretEntry], str): the secrets, and the keyring's problem ("" when none).
    revealed(str, str, str): name, value, and why it was asked ("show" or "copy").
    failed(str): a message for the person (no value in it).
    """

    listed = Signal(object, str)
    revealed = Signal(str, str, str)
    failed = Signal(str)

    def __init__(self, store: SecretStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._tasks = TaskGroup("secrets")

    def refresh(self) -> None:
        self._tasks.start("list", self._list())

    def reveal(self, name: str, purpose: str = "show") -> None:
        self._tasks.start(f"reveal:{name}", self._reveal(name, purpose))

    def set_secret(self, name: str, value: str) -> None:
        self._tasks.start(f"set:{name}", self._then_list(self.store.set, name, value))

    def delete(self, name: str) -> None:
        self._tasks.start(f"delete:{name}", self._then_list(self.store.delete, name))

    def close(self) -> None:
        self._tasks.cancel_all()

    async def _list(self) -> None:
        entries, problem = await asyncio.to_thread(self.store.entries)
        self.listed.emit(entries, problem or "")

    async def _reveal(self, name: str, purpose: str) -> None:
        try:
            value = await asyncio.to_thread(self.store.reveal, name)
        except EliteError as exc:
            self.failed.emit(str(exc))
            return
        if value is None:
            self.failed.emit(f"{name} is not set")
        else:
            self.revealed.emit(name, value, purpose)

    async def _then_list(self, call: Callable[..., Any], *args: Any) -> None:
        try:
            await asyncio.to_thread(call, *args)
        except EliteError as exc:
            self.failed.emit(str(exc))
        await self._list()
