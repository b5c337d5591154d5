"""The project index's Qt side: the projects and their state, indexing with progress,
pause and cancel, the watchers that keep indexes current, @-mention completion, the
reference a chat turn gets, and citations opened in the editor.

Everything that touches the disk or the assistant runs off the window's thread; the
code never leaves this machine but as the embeddings request the profile's assistant
answers (the local stack, or a team's server in remote mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from elite_panel.adapters.tasks import TaskGroup
from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths

if TYPE_CHECKING:
    from elite_panel.client.assistant import AssistantClient
    from elite_panel.core.profiles import ProjectSettings
    from elite_panel.projects.indexer import Indexer, Progress
    from elite_panel.projects.mentions import Reference
    from elite_panel.projects.registry import ProjectRegistry

log = logging.getLogger(__name__)


@dataclass
class ProjectView:
    """A project as the Projects page shows it."""

    name: str
    root: Path
    files: int = 0
    chunks: int = 0
    size: int = 0
    skipped: list[Any] = field(default_factory=list)  # projects.files.Skipped
    state: str = "idle"  # indexing, paused, idle, failed
    watching: bool = False
    error: str = ""


class ProjectsAdapter(QObject):
    """The projects of this installation, for the Projects page and the chat.

    Signals:
    projectsChanged(list): the projects (:class:`ProjectView`), after any change.
    progressed(str, object): a project being indexed: its name and the run's
        :class:`~elite_panel.projects.indexer.Progress` so far.
    failed(str): an action failed: what, and what to do.
    """

    projectsChanged = Signal(list)
    progressed = Signal(str, object)
    failed = Signal(str)

    def __init__(
        self,
        paths: AppPaths,
        client: Callable[[], AssistantClient | None],
        secret_names: Callable[[], list[str]],
        parent: QObject | None = None,
    ) -> None:
        """``client``: the assistant the chat uses now (None: none answers);
        ``secret_names``: the names of the user's secrets (files so named are not read)."""
        super().__init__(parent)
        self.paths = paths
        self.client = client
        self.secret_names = secret_names
        # The profile's [projects] (its defaults until the profile has loaded).
        self.embedding_model, self.context_share, self.editor, self.watch_files = (
            "all-minilm",
            0.4,
            "",
            True,
        )
        self.views: dict[str, ProjectView] = {}
        self.paths_of: dict[str, list[str]] = {}  # each project's indexed files (completion)
        self._indexers: dict[str, Indexer] = {}
        self._tasks = TaskGroup("projects")
        self._registry: ProjectRegistry | None = None

    def registry(self) -> ProjectRegistry:
        if self._registry is None:
            from elite_panel.projects.registry import ProjectRegistry

            self._registry = ProjectRegistry(self.paths)
        return self._registry

    def use_settings(self, settings: ProjectSettings) -> None:
        """The profile's ``[projects]``: the embedding model, the share, the editor."""
        watching_before = self.watch_files
        self.embedding_model, self.context_share = settings.embedding_model, settings.context_share
        self.editor, self.watch_files = settings.editor, settings.watch
        if settings.watch != watching_before:
            self.refresh()

    def close(self) -> None:
        self._tasks.cancel_all()

    # -- the list -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Read every project's index again (``projectsChanged``); watch them (the
        profile's ``projects.watch``) while an assistant answers."""
        self._tasks.start("refresh", self._refresh())

    async def _refresh(self) -> None:
        try:
            views = await asyncio.to_thread(self._read_views)
        except EliteError as exc:
            self.failed.emit(str(exc))
            return
        for name, (view, files) in views.items():
            old = self.views.get(name)
            if old is not None:
                view.state, view.error = old.state, old.error
            self.views[name] = view
            self.paths_of[name] = files
        for gone in set(self.views) - set(views):
            self.views.pop(gone, None)
            self.paths_of.pop(gone, None)
        for name in self.views:
            self._watch(name)
        self.projectsChanged.emit(list(self.views.values()))

    def _read_views(self) -> dict[str, tuple[ProjectView, list[str]]]:
        from elite_panel.projects.store import ProjectIndex

        views = {}
        for project in self.registry().projects():
            index = ProjectIndex(self.registry().index_path(project.name))
            try:
                files, chunks = index.counts()
                view = ProjectView(
                    project.name, project.root, files, chunks, index.size_bytes(), index.skipped()
                )
                views[project.name] = (view, sorted(index.files()))
            finally:
                index.close()
        return views

    def add(self, root: Path, name: str | None = None) -> None:
        """Add the folder ``root`` and index it."""
        try:
            project = self.registry().add(root, name)
        except EliteError as exc:
            self.failed.emit(str(exc))
            return
        self.views[project.name] = ProjectView(project.name, project.root)
        self.projectsChanged.emit(list(self.views.values()))
        self.reindex(project.name)

    def remove(self, name: str) -> None:
        """Forget ``name`` and delete its index (its files are not touched)."""
        self.cancel(name)
        self._tasks.cancel(f"watch:{name}")
        try:
            self.registry().remove(name)
        except EliteError as exc:
            self.failed.emit(str(exc))
        self.refresh()

    # -- indexing ----------------------------------------------------------------------

    def reindex(self, name: str) -> None:
        """Index what changed in ``name`` (all of it the first time), with progress."""
        self._tasks.start(f"index:{name}", self._index(name))

    def pause(self, name: str) -> None:
        indexer = self._indexers.get(name)
        if indexer is not None:
            indexer.pause()
            self._set_state(name, "paused")

    def resume(self, name: str) -> None:
        indexer = self._indexers.get(name)
        if indexer is not None:
            indexer.resume()
            self._set_state(name, "indexing")

    def cancel(self, name: str) -> None:
        """Stop indexing ``name``: what was written stays, the next run goes on from it."""
        self._tasks.cancel(f"index:{name}")

    async def _index(self, name: str) -> None:
        indexer = None
        try:
            indexer = await self._indexer(name)
            self._indexers[name] = indexer
            self._set_state(name, "indexing")
            await indexer.run()
            self._set_state(name, "idle")
        except asyncio.CancelledError:
            self._set_state(name, "idle", "cancelled: the next run goes on from here")
            raise
        except EliteError as exc:
            self._set_state(name, "failed", str(exc))
            self.failed.emit(f"{name} was not indexed: {exc}")
        finally:
            self._indexers.pop(name, None)
            if indexer is not None:
                indexer.index.close()
            self.refresh()

    async def _indexer(self, name: str) -> Indexer:
        """An indexer of ``name`` embedding with the assistant the chat uses (raises
        EliteError when none answers)."""
        from elite_panel.projects.indexer import Indexer
        from elite_panel.projects.store import ProjectIndex

        client = self.client()
        if client is None:
            raise EliteError("no assistant answers: start the stack (or reach the team server)")
        project = self.registry().get(name)
        model = self.embedding_model
        names = await asyncio.to_thread(self.secret_names)
        index = await asyncio.to_thread(ProjectIndex, self.registry().index_path(name))

        async def embed(texts: list[str]) -> list[list[float]]:
            return await client.embed(model, texts)

        def show(progress: Progress) -> None:
            self.progressed.emit(name, progress)

        return Indexer(project.root, index, embed, model, names, show)

    def _set_state(self, name: str, state: str, error: str = "") -> None:
        view = self.views.get(name)
        if view is not None:
            view.state, view.error = state, error
            self.projectsChanged.emit(list(self.views.values()))

    def _watch(self, name: str) -> None:
        """Keep ``name``'s index current as its files change (the profile allowing)."""
        key = f"watch:{name}"
        if not self.watch_files:
            self._tasks.cancel(key)
        elif not self._tasks.running(key) and self.client() is not None:
            self._tasks.start(key, self._follow(name))
        self.views[name].watching = self._tasks.running(key)

    async def _follow(self, name: str) -> None:
        from elite_panel.projects import watcher

        indexer = await self._indexer(name)
        try:
            await watcher.follow(indexer)
        finally:
            indexer.index.close()
            with contextlib.suppress(KeyError):
                self.views[name].watching = False

    # -- the chat --------------------------------------------------------------------------

    def mention_candidates(self, typed: str) -> list[str]:
        """What ``@typed`` may complete to (from the indexes as last read)."""
        from elite_panel.projects.mentions import completions

        return completions(typed, list(self.views), lambda name: self.paths_of.get(name, []))

    async def reference(
        self,
        client: AssistantClient,
        prompt: str,
        model: str | None,
        conversation_id: str | None,
        system: str | None,
    ) -> Reference | None:
        """The code ``prompt``'s @-mentions bring, fitted into the profile's share of the
        window (None: it mentions no project)."""
        from elite_panel.projects.mentions import project_reference

        if "@" not in prompt or not self.views:
            return None
        embedding_model = self.embedding_model

        async def embed(texts: list[str]) -> list[list[float]]:
            return await client.embed(embedding_model, texts)

        async def draft(reference: str | None) -> dict[str, Any]:
            messages = [{"role": "user", "content": prompt}]
            return await client.count(messages, model, conversation_id, system, reference)

        return await project_reference(prompt, self.registry(), self.context_share, embed, draft)

    def open_citation(self, project: str, path: str, line: int) -> None:
        """Open ``path`` of ``project`` at ``line`` in the user's editor."""
        from elite_panel.projects.editor import open_in_editor

        try:
            root = self.registry().get(project).root
            open_in_editor(root / path, line, self.editor)
        except EliteError as exc:
            self.failed.emit(str(exc))
