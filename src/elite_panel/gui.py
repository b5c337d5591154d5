"""The window's early start: what paints first, what comes after, and why.

This module is the window's process from its first line, and the one place that decides
the order of its start:

1. **The window paints first.** Qt's application, the theme's palette (the scheme the window
   showed last, kept in ``window.ini``, so a dark window never flashes light) and the
   window's shell (sidebar, the page's title, the status line) are all that come before
   the first paint (about 1.3 times a bare PySide6 window's first paint; the figures are
   on the docs' benchmarks page).
2. **Then the panel behind it.** asyncio, qasync and the adapters (about 80 ms to import)
   are imported only once the window has painted; the panel (:mod:`elite_panel.app`, the
   composition root) is built then and builds the page the window opens on.
3. **Every other page is built the first time it shows** (the main window holds a factory
   per page).
4. **What coroutines need is imported off the window's thread**
   (:func:`~elite_panel.adapters.tasks.off_the_window`: pydantic alone takes 250 ms, and an
   import on the window's thread stops every event for that long).
5. **Once up, what start-up made leaves the garbage collector's view** (``gc.freeze``): a
   full collection then walks only what came later, about 1 ms instead of 100.

Nothing else is bent for speed: Qt is imported as it ships, the style is set the usual way,
modules use Qt's enums as they like.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from elite_panel import APP_NAME, DESKTOP_ID
from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.ui import theme, window_state
from elite_panel.ui.main_window import MainWindow

if TYPE_CHECKING:
    from elite_panel.app import Panel

log = logging.getLogger(__name__)

PAINT_WAIT_MS = 250  # a window that is not exposed (another workspace) paints later: go on


def _check_display() -> None:
    """Fail with advice instead of Qt's abort when there is no screen to open a window on."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise EliteError(
            "no display to open the panel on (DISPLAY and WAYLAND_DISPLAY are unset); "
            "the headless commands work without one: `elite-panel stack up`, "
            "`elite-panel chat`, `elite-panel --help`"
        )


def paint_first(window: MainWindow) -> None:
    """Show ``window`` and run Qt's events until it has painted (or for at most
    :data:`PAINT_WAIT_MS`)."""
    waiting = QEventLoop()
    deadline = QTimer(singleShot=True, interval=PAINT_WAIT_MS)
    deadline.timeout.connect(waiting.quit)
    window.firstPainted.connect(waiting.quit)
    window.show()
    if not window.painted:  # (a platform may paint within show())
        deadline.start()
        waiting.exec()
    deadline.stop()
    window.firstPainted.disconnect(waiting.quit)


def run_gui(
    paths: AppPaths,
    profile_name: str,
    page: str | None = None,
    on_shown: Callable[[Panel], None] | None = None,
    hidden: bool = False,
    start_stack: bool = False,
) -> int:
    """Open the panel and run the Qt + asyncio loop until it quits.

    ``hidden`` starts in the tray (at login), ``start_stack`` brings the stack up.
    ``on_shown`` receives the panel once its window is shown (the start-up benchmark uses it).
    """
    paths.ensure()
    _check_display()
    app = QApplication.instance() or theme.application(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("Elite Coding Assistant")
    app.setDesktopFileName(DESKTOP_ID)  # the dock and the task bar show our entry's icon
    app.setQuitOnLastWindowClosed(False)
    theme.apply(app, window_state.kept_scheme(paths))  # the profile's once it is read
    window = MainWindow.shell()
    window.firstPainted.connect(lambda: log.info("the window is painted"))
    if not hidden:  # (hidden: the panel decides, shown only where there is no tray)
        start = window_state.start_page(paths, profile_name, page)
        window.present(window_state.layout_settings(paths), start, show=False)
        paint_first(window)

    import asyncio  # (only now: with qasync and the adapters, about 80 ms to import)

    import qasync

    from elite_panel.app import Panel

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def main() -> None:
        panel = Panel(paths, profile_name, window=window)
        panel.show(page, hidden=hidden)
        panel.check_profile()
        if start_stack:
            panel.stack.start_stack()
        if on_shown:
            on_shown(panel)
        gc.freeze()  # (5.)
        await panel.finished.wait()

    with loop:
        loop.run_until_complete(main())
    return 0
