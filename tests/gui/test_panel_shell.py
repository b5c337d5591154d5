"""The panel's shell: the tray (menu, close-to-tray, notifications), quitting with and
without stopping the stack, and errors nobody caught shown in the status bar."""

from __future__ import annotations

import asyncio
import logging

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from elite_panel import gui
from elite_panel.adapters.tasks import TaskGroup
from elite_panel.app import Panel
from elite_panel.core.errors import NoRunnerFound
from elite_panel.core.paths import AppPaths
from elite_panel.ui.main_window import MainWindow
from elite_panel.ui.tray import Tray
from tests.conftest import Home, wait_for

# The offscreen platform has no tray and cannot raise a window: Qt says so.
pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("systemTrayWindowChanged", "does not support raise"),
]


def test_tray_menu_actions_emit_their_requests(qtbot: QtBot) -> None:
    tray = Tray()
    heard: list[str] = []
    for name in ("startRequested", "stopRequested", "showRequested", "quitRequested"):
        getattr(tray, name).connect(lambda name=name: heard.append(name))
    for action in tray._menu.actions():
        action.trigger()
    assert heard == ["startRequested", "stopRequested", "showRequested", "quitRequested"]


@pytest.fixture
def tray_panel(qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home) -> Panel:
    built = Panel(AppPaths.from_env(), "default", use_tray=True)
    qtbot.addWidget(built.window)
    return built


def test_close_keeps_the_panel_in_the_tray_and_alerts_notify(
    qtbot: QtBot, tray_panel: Panel
) -> None:
    panel = tray_panel
    assert panel.tray is not None
    notified: list[tuple[str, str]] = []
    panel.tray.notify = lambda title, message: notified.append((title, message))  # type: ignore[method-assign]
    panel.show("chat")
    panel.window.close()  # the window's close button
    qtbot.waitUntil(lambda: not panel.window.isVisible(), timeout=5000)
    assert not panel.finished.is_set()  # still running, in the tray
    panel.tray.showRequested.emit()
    qtbot.waitUntil(panel.window.isVisible, timeout=5000)
    panel.monitor.alertFired.emit({"rule": "HighCPUUsage", "message": "CPU at 93 %"})
    assert notified == [("Alert: HighCPUUsage", "CPU at 93 %")]
    panel.close()


@pytest.mark.model
def test_quit_stops_the_stack_only_when_the_profile_says_so(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real stack: Quit leaves it running by default, and stops it (its processes end)
    with ``stack.stop_on_quit``."""
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    running = home.processes()
    for stop_on_quit in (False, True):
        monkeypatch.setenv("ELITE_STACK__STOP_ON_QUIT", str(stop_on_quit).lower())
        panel = Panel(AppPaths.from_env(), "default", use_tray=True)
        qtbot.addWidget(panel.window)
        panel.show("chat")
        assert panel.tray is not None
        panel.tray.quitRequested.emit()
        qtbot.waitUntil(panel.finished.is_set, timeout=30_000)
        assert not panel.window.isVisible()
        if stop_on_quit:
            wait_for(lambda: not any(p.is_running() for p in running), 15, "the stack to end")
        else:
            assert all(p.is_running() for p in running)


def test_uncaught_errors_are_logged_and_shown(
    qtbot: QtBot, panel: Panel, caplog: pytest.LogCaptureFixture
) -> None:
    panel.show("chat")

    def broken_slot() -> None:
        raise RuntimeError("a slot went wrong")

    with caplog.at_level(logging.ERROR):
        QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(lambda: "a slot went wrong" in panel.window.statusBar().currentMessage())
        assert any(r.exc_info and "a slot went wrong" in str(r.exc_info[1]) for r in caplog.records)

        async def broken_task() -> None:
            raise ValueError("a task went wrong")

        TaskGroup("test").start("broken", broken_task())
        qtbot.waitUntil(lambda: "test:broken" in panel.window.statusBar().currentMessage())
    assert panel.window.statusBar().currentMessage().startswith("Error: task test:broken failed")


def test_the_start_waits_for_the_first_paint_but_not_for_a_window_never_painted(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    painted = MainWindow.shell()
    qtbot.addWidget(painted)
    gui.paint_first(painted)
    assert painted.painted and painted.isVisible()

    hidden = MainWindow.shell()  # (on another workspace: shown, never exposed)
    qtbot.addWidget(hidden)
    monkeypatch.setattr(hidden, "show", lambda: None)
    gui.paint_first(hidden)  # returns after its deadline
    assert not hidden.painted


def test_a_start_that_found_no_runner_opens_the_welcome_guide_by_its_code(
    qtbot: QtBot, panel: Panel
) -> None:
    """The decision is the error's code (``no_runner``), not its words."""
    panel.show("stack")
    panel.stack.actionFailed.emit("stack", "no model runner found: install Ollama", "error")
    assert panel.window.current_page() == "stack"
    panel.stack.actionFailed.emit("stack", "nothing to run models with", NoRunnerFound.code)
    qtbot.waitUntil(lambda: panel.window.current_page() == "welcome", timeout=5000)
