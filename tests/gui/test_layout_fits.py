"""Every page fits a laptop's window and the minimum size: no visible widget extends
beyond its parent, no two controls side by side overlap (what a clipped or squeezed row
looks like)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.ui import window_state
from elite_panel.ui.main_window import MINIMUM
from elite_panel.ui.pages.chat_page import ChatPage
from tests.conftest import REPO

pytestmark = pytest.mark.gui

CONTROLS = (QAbstractButton, QComboBox, QLineEdit, QLabel, QAbstractSpinBox, QProgressBar)
PAGES = ("chat", "dashboard", "stack", "models", "settings", "secrets", "backups", "welcome")


def scrolled(widget: QWidget) -> bool:
    """Inside a scroll area's content (which may be larger than what shows), or a plot's."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def layout_problems(root: QWidget) -> list[str]:
    found = []
    shown = [w for w in root.findChildren(QWidget) if w.isVisible() and not w.isWindow()]
    for widget in shown:
        parent = widget.parentWidget()
        if parent is None or scrolled(widget):
            continue
        if not parent.rect().adjusted(-1, -1, 1, 1).contains(widget.geometry()):
            found.append(f"{widget!r} {widget.geometry()} outside {parent!r} {parent.rect()}")
    for label in (w for w in shown if isinstance(w, QLabel) and w.wordWrap() and w.text()):
        needed = label.heightForWidth(label.width())
        if needed > label.height() + 1:  # wrapped text cut off at the bottom
            found.append(f"{label!r} {label.text()[:40]!r}: {label.height()} px of {needed}")
    siblings: dict[int, list[QWidget]] = {}
    for widget in shown:
        if isinstance(widget, CONTROLS) and not scrolled(widget) and widget.parentWidget():
            siblings.setdefault(id(widget.parentWidget()), []).append(widget)
    for group in siblings.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                overlap = a.geometry().intersected(b.geometry())
                if overlap.width() > 2 and overlap.height() > 2:
                    found.append(f"{a!r} {a.geometry()} overlaps {b!r} {b.geometry()}")
    return found


def each_page(qtbot: QtBot, panel: Panel) -> Iterator[tuple[str, QWidget]]:
    """Show every page in turn (built if it is built on first show); its name and widget."""
    for name in PAGES:
        panel.show(name)
        page = panel.window.pages[name]
        qtbot.waitUntil(lambda page=page: page.isVisible())
        QApplication.processEvents()  # the layout requests the page's showing posted
        yield name, page


@pytest.mark.parametrize("size", [(1280, 720), (MINIMUM.width(), MINIMUM.height())])
def test_every_page_fits(qtbot: QtBot, panel: Panel, size: tuple[int, int]) -> None:
    panel.window.setMinimumSize(MINIMUM)  # the offscreen screen would allow less
    panel.show("chat")
    panel.window.resize(*size)
    for name, _page in each_page(qtbot, panel):
        assert panel.window.size().toTuple() == size, f"{name} forces a larger window"
        assert layout_problems(panel.window) == [], name


def test_window_and_splitters_come_back_as_they_were(qtbot: QtBot, panel: Panel) -> None:
    panel.show("chat")
    panel.window.resize(720, 690)  # within 90 % of the offscreen screen (800 x 800)
    chat = panel.window.page("chat")
    chat.splitter.setSizes([200, 900])  # type: ignore[attr-defined]
    kept = chat.splitter.sizes()  # type: ignore[attr-defined]
    panel.show("dashboard")  # a page built later: its splitter comes back when it is built
    graphs = panel.window.page("dashboard").splitter  # type: ignore[attr-defined]
    graphs.setSizes([150, 400])
    kept_graphs = graphs.sizes()
    panel.close()  # saved on quit (and when the window closes to the tray)

    again = Panel(panel.paths, "default", use_tray=False)
    qtbot.addWidget(again.window)
    again.show("chat")
    assert again.window.size().toTuple() == (720, 690)
    splitter = again.window.page("chat").splitter  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: splitter.sizes() == kept)  # (once the page built at show is laid out)
    again.show("dashboard")
    graphs = again.window.page("dashboard").splitter  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: graphs.sizes() == kept_graphs)
    again.close()


def test_ctrl_b_hides_and_shows_the_conversations(qtbot: QtBot, panel: Panel) -> None:
    from PySide6.QtCore import Qt

    panel.show("chat")
    panel.window.activateWindow()  # shortcuts act in the active window
    qtbot.waitUntil(panel.window.isActiveWindow)
    chat = panel.window.page("chat")
    assert chat.conversation_list.isVisible()  # type: ignore[attr-defined]
    qtbot.keyClick(chat, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert not chat.conversation_list.isVisible()  # type: ignore[attr-defined]
    qtbot.keyClick(chat, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert chat.conversation_list.isVisible()  # type: ignore[attr-defined]


def test_light_and_dark_reach_the_plots(qtbot: QtBot, panel: Panel) -> None:
    """One palette for widgets and graphs: no black plots in a light window."""
    panel.show("dashboard")
    plots = panel.window.page("dashboard").plots  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "cpu" in plots)  # built when the page first shows
    plot = plots["cpu"]
    panel.theme.apply("light")
    qtbot.waitUntil(lambda: panel.window.palette().window().color().lightness() > 200)
    qtbot.waitUntil(lambda: plot.backgroundBrush().color().lightness() > 200)
    panel.theme.apply("dark")  # the palette reaches the widgets with Qt's change events
    qtbot.waitUntil(lambda: panel.window.palette().window().color().lightness() < 60)
    qtbot.waitUntil(lambda: plot.backgroundBrush().color().lightness() < 60)
    assert window_state.kept_scheme(panel.paths) == "dark"  # the next start paints with it
    panel.theme.apply("light")
    assert window_state.kept_scheme(panel.paths) == "light"


def test_every_control_has_an_accessible_name(qtbot: QtBot, panel: Panel) -> None:
    from elite_panel.ui.accessibility import controls

    panel.show("chat")
    unnamed = []
    for name, page in each_page(qtbot, panel):
        unnamed += [f"{name}: {w!r}" for w in controls(page) if not w.accessibleName()]
        # each page says what it is, in a title and one line
        assert panel.window.page_title.text() == getattr(page, "title", name.title())
        assert panel.window.page_description.text().endswith(".")
    assert unnamed == []
    chat = panel.window.page("chat")
    assert isinstance(chat, ChatPage)
    assert chat.conversation_list.conversations.accessibleName() == "Conversations"
    search = chat.conversation_list.search
    assert search.accessibleName() == "Search conversations"


def test_the_command_palette_finds_and_runs_an_action(qtbot: QtBot, panel: Panel) -> None:
    panel.show("chat")
    panel.window.activateWindow()
    qtbot.waitUntil(panel.window.isActiveWindow)
    qtbot.keyClick(panel.window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    palette = panel.window.palette_dialog
    assert palette is not None and palette.isVisible()
    names = [c.name for c in palette.commands]
    assert "Go to Dashboard" in names and "Chat: New" in names and "Quit" in names
    assert "Start stack" in names and "Chat: Regenerate the last answer" in names
    new = next(c for c in palette.commands if c.name == "Chat: New")
    assert new.shortcut == "Ctrl+N"  # read from its tooltip
    qtbot.keyClicks(palette.filter, "go dash")
    assert palette.list.count() == 1
    qtbot.keyClick(palette.filter, Qt.Key.Key_Return)
    assert not palette.isVisible()
    assert panel.window.current_page() == "dashboard"


@pytest.mark.parametrize("scale", ["1.5", "2"])
def test_every_page_fits_at_150_and_200_percent(tmp_path: Path, scale: str) -> None:
    """The same check in a run of its own, scaled (QT_SCALE_FACTOR) on a screen of a
    high-density display's size: sizes are logical, so every page fits the same way."""
    screens = tmp_path / "screens.json"
    screens.write_text(
        '{"screens": [{"name": "hidpi", "x": 0, "y": 0, "width": 3840, "height": 2400,'
        ' "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}'
    )
    env = {
        **os.environ,
        "QT_SCALE_FACTOR": scale,
        "QT_QPA_PLATFORM": f"offscreen:configfile={screens}",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_every_page_fits",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-3000:]


def tab_chain(window: QWidget) -> list[QWidget]:
    """The widgets Tab visits, in order, from the window's first one (as Qt's
    focusNextPrevChild walks the focus chain)."""
    chain, widget = [], window.nextInFocusChain()
    while widget is not window and len(chain) < 2000:
        tabbable = bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus)
        if tabbable and widget.isVisible() and widget.isEnabled() and widget.window() is window:
            chain.append(widget)
        widget = widget.nextInFocusChain()
    return chain


def test_tab_reaches_every_control_of_every_page(qtbot: QtBot, panel: Panel) -> None:
    from elite_panel.ui.accessibility import controls

    panel.show("chat")
    unreachable = []
    for name, page in each_page(qtbot, panel):
        chain = tab_chain(panel.window)
        unreachable += [
            f"{name}: {w!r} {w.accessibleName()!r}"
            for w in controls(page)
            if w.isVisible() and w.isEnabled() and w not in chain
        ]
    assert unreachable == []


def test_the_chat_pages_tab_order_reads_like_the_page(qtbot: QtBot, panel: Panel) -> None:
    panel.show("chat")
    chat = panel.window.page("chat")
    assert isinstance(chat, ChatPage)
    conversations, composer = chat.conversation_list, chat.composer
    order = [
        conversations.search,
        conversations.conversations,
        conversations.new_button,
        composer.model,
        composer.preset,
        composer.attach_button,
        composer.more_button,
        composer.prompt,
        composer.send_button,
    ]
    chain = tab_chain(panel.window)
    positions = [chain.index(w) for w in order]
    assert positions == sorted(positions)
