"""The Models page's side of the assistant server's model API, over the chat adapter's
connection (one client per panel). A pull or an import runs as one task that Cancel ends:
closing the stream stops the runner's download, which then registers nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.chat_adapter import ChatAdapter
from elite_panel.adapters.remote_adapter import RemoteAdapter
from elite_panel.adapters.stack_adapter import StackAdapter
from elite_panel.adapters.tasks import TaskGroup
from elite_panel.core.errors import EliteError

if TYPE_CHECKING:
    from elite_panel.client.server_state import RemoteState


class ModelsAdapter(QObject):
    """The Models page's Qt side of the assistant's models API.

    Signals:
    installed(list[Model]): installed models, each with ``conversations`` (how many use it).
    loaded(list[LoadedModel], str): models in memory, or why the runner cannot say ("" if it
        can).
    details(dict): one model's details.
    progress(str, dict): a pull or import event (name, event).
    finished(str): an operation ended well (its message).
    failed(str): an operation failed (its message).
    accessChanged(bool, str): whether models may be pulled, imported, unloaded and deleted
        (not with a team server's key), and why not.
    """

    installed = Signal(list)
    loaded = Signal(list, str)
    details = Signal(dict)
    progress = Signal(str, dict)
    finished = Signal(str)
    failed = Signal(str)
    accessChanged = Signal(bool, str)

    def __init__(
        self,
        chat: ChatAdapter,
        stack: StackAdapter,
        remote: RemoteAdapter,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.chat = chat
        self.stack = stack
        self.may_change = (True, "")
        self._tasks = TaskGroup("models")
        remote.stateChanged.connect(self._on_remote_state)
        self._on_remote_state(remote.state)

    def _on_remote_state(self, state: RemoteState | None) -> None:
        """A key (not the admin token) lists and uses a team server's models, no more."""
        if state is not None and state.info is None:
            return  # not known yet
        may_change = (
            (True, "")
            if state is None or state.admin
            else (False, "Only the server's admin token changes its models.")
        )
        if may_change != self.may_change:
            self.may_change = may_change
            self.accessChanged.emit(*may_change)

    def refresh(self) -> None:
        self._run("list", self._list())

    def pull(self, name: str) -> None:
        self._run("transfer", self._transfer(name, "pull"))

    def import_file(self, path: str, name: str | None) -> None:
        self._run("transfer", self._transfer(name or path, "import", path))

    def cancel(self) -> None:
        if self._tasks.running("transfer"):
            self._tasks.cancel("transfer")
            self.failed.emit("Cancelled: nothing was added.")

    def delete(self, name: str) -> None:
        self._run("delete", self._call("delete_model", name, f"Deleted {name}."))

    def unload(self, name: str) -> None:
        self._run("unload", self._call("unload_model", name, f"Unloaded {name}."))

    def show(self, name: str) -> None:
        self._run("show", self._show(name))

    def close(self) -> None:
        self._tasks.cancel_all()

    # -- internals ----------------------------------------------------------------------

    def _run(self, key: str, coro: Coroutine[Any, Any, None]) -> None:
        if self.chat.client is None:
            coro.close()
            self.failed.emit(self.chat.unavailable_reason)
            return
        self._tasks.start(key, coro)

    async def _list(self) -> None:
        client = self.chat.client
        assert client is not None
        try:
            models = await client.models()  # each with its number of conversations
        except EliteError as exc:
            self.failed.emit(str(exc))
            return
        self.installed.emit(models)
        try:
            self.loaded.emit(await client.loaded_models(), "")
        except EliteError as exc:
            self.loaded.emit([], str(exc).split(": ", 1)[-1])

    async def _transfer(self, name: str, kind: str, path: str | None = None) -> None:
        client = self.chat.client
        assert client is not None
        events: AsyncGenerator[dict[str, Any], None] = (
            client.pull_model(name) if kind == "pull" else client.import_model(path or "", None)
        )
        try:
            # aclosing: a Cancel closes the HTTP stream here, in this task, at once.
            async with contextlib.aclosing(events) as stream:
                async for event in stream:
                    if "error" in event:
                        self.failed.emit(f"{name}: {event['error']}")
                        return
                    self.progress.emit(name, event)
        except EliteError as exc:
            self.failed.emit(str(exc))
            return
        if kind == "import":
            self.stack.restart_service("runner")  # it serves the folder's files from its start
            self.finished.emit("Imported; the runner restarts to serve it.")
        else:
            self.finished.emit(f"Pulled {name}.")
        await self._list()

    async def _call(self, method: str, name: str, message: str) -> None:
        client = self.chat.client
        assert client is not None
        try:
            await getattr(client, method)(name)
        except EliteError as exc:
            self.failed.emit(str(exc))
            return
        self.finished.emit(message)
        await self._list()

    async def _show(self, name: str) -> None:
        client = self.chat.client
        assert client is not None
        try:
            self.details.emit(await client.model(name))
        except EliteError as exc:
            self.failed.emit(str(exc))
