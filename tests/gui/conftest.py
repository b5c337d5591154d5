"""GUI tests run offscreen with a qasync loop bound to pytest-qt's QApplication.

The loop is created ``already_running``: asyncio tasks then advance whenever Qt processes
events, including inside ``qtbot.waitUntil`` and ``qtbot.waitSignal``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import qasync
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.core.paths import AppPaths
from tests.conftest import Home


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    executor = ThreadPoolExecutor(max_workers=4)  # shut down here, unlike qasync's own
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        # Let them end (leaving their timeouts' scopes), or their timers fire in later tests.
        deadline = time.monotonic() + 5
        while not all(task.done() for task in tasks) and time.monotonic() < deadline:
            qapp.processEvents()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)
        executor.shutdown(wait=True)


@pytest.fixture
def panel(qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home) -> Iterator[Panel]:
    """The panel of the test's isolated home, without a tray (none offscreen)."""
    built = Panel(AppPaths.from_env(), "default", use_tray=False)
    built.window.resize(1280, 720)  # a laptop's window (the offscreen screen is 800x800)
    qtbot.addWidget(built.window)
    yield built
    built.close()
