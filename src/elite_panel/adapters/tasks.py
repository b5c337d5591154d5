"""Owned background tasks: named, referenced, replaced and cancelled with their owner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def off_the_window(load: Callable[[], T]) -> T:
    """What ``load()`` returns, run in a worker thread: the imports it makes happen there,
    and the window's thread keeps painting meanwhile (pydantic's import alone takes 250 ms,
    and an import on the window's thread stops every event for that long). ``load`` imports
    what a coroutine needs with ordinary import statements and returns it."""
    return await asyncio.to_thread(load)


class TaskGroup:
    """Keeps one task per key; starting a key again cancels the previous run of it."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def start(self, key: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        self.cancel(key)
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self._owner}:{key}")
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._done(key, t))
        return task

    def cancel(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task and not task.done():
            task.cancel()

    def running(self, key: str) -> bool:
        task = self._tasks.get(key)
        return task is not None and not task.done()

    def cancel_all(self) -> None:
        for key in list(self._tasks):
            self.cancel(key)

    def _done(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())
