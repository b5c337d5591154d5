"""The Settings and Secrets pages offscreen: the generated form, Apply with its summary,
refusals (invalid value, invalid TOML, a file changed on disk), the profile list; and the
secrets against the real keyring, with reveal hidden again and delete confirmed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGroupBox, QLineEdit
from pytestqt.qtbot import QtBot

from elite_panel import __version__
from elite_panel.app import Panel
from elite_panel.core.paths import AppPaths
from elite_panel.core.profile_store import ProfileStore
from elite_panel.ui.pages.secrets_page import HIDDEN, SecretsPage
from elite_panel.ui.pages.settings_page import SettingsPage
from elite_panel.ui.widgets.lazy_page import LazyPage
from tests.conftest import Home

pytestmark = pytest.mark.gui


def open_page(panel: Panel, name: str) -> Any:
    panel.show(name)
    lazy = panel.window.pages[name]
    assert isinstance(lazy, LazyPage) and lazy.page is not None  # built when first shown
    return lazy.page


def open_settings(qtbot: QtBot, panel: Panel) -> SettingsPage:
    """The Settings page once it has read the active profile (off the UI thread)."""
    page = open_page(panel, "settings")
    assert isinstance(page, SettingsPage)
    qtbot.waitUntil(lambda: bool(page.loaded_text), timeout=10_000)
    return page


def test_settings_form_apply_and_refusals(qtbot: QtBot, panel: Panel) -> None:
    page = open_settings(qtbot, panel)
    asked: list[str] = []
    page.confirm = lambda _p, _t, text: asked.append(text) or True
    titles = [box.title() for box in page.form.findChildren(QGroupBox)]
    assert titles == [
        "Stack",
        "Remote server",
        "Runner",
        "Assistant server",
        "Dashboard & alerts",
        "Backups",
        "Logging",
        "Window",
        "Projects",
    ]
    overridden = page.form.fields["assistant.port"]  # the test's home sets its variable
    assert overridden.note.text().endswith("from $ELITE_ASSISTANT__PORT")
    assert not overridden.widget.isEnabled()
    cpu = page.form.fields["dashboard.cpu_percent"]
    assert "HighCPUUsage" in cpu.note.text() and cpu.note.text().endswith("from default")
    assert isinstance(cpu.widget, QLineEdit)

    cpu.widget.setText("170")  # inline validation, and Apply refuses
    assert not cpu.error.isHidden() and "100" in cpu.error.text()
    page.apply()  # (refused before anything is read)
    assert asked == [] and "dashboard.cpu_percent" in page.message.text()

    cpu.widget.setText("90")
    assert cpu.error.isHidden()
    with qtbot.waitSignal(page.settings.viewLoaded, timeout=10_000):
        page.apply()  # saved, then read back
    assert page.message.text().startswith("Saved.")
    assert "dashboard.cpu_percent: 80.0 → 90.0" in asked[0]
    assert "nothing restarts" in asked[0]  # the stack is not running
    text = page.settings.store.text("default")
    assert "cpu_percent = 90" in text and "# Elite Coding Assistant profile" in text
    assert "# memory_percent = 85.0" in text  # the other comments are kept

    page.tabs.setCurrentIndex(1)  # the raw TOML view refuses invalid TOML with its line
    page.raw.setPlainText(text.replace("cpu_percent = 90", "cpu_percent = = 1"))
    with qtbot.waitSignal(page.settings.refused, timeout=10_000):
        page.apply()
    assert "invalid TOML" in page.message.text() and "line" in page.message.text()
    assert page.settings.store.text("default") == text

    page.raw.setPlainText(text.replace("cpu_percent = 90", "cpu_percent = 91"))
    page.settings.store.path("default").write_text(text + "# elsewhere\n", encoding="utf-8")
    with qtbot.waitSignal(page.settings.refused, timeout=10_000):
        page.apply()  # changed on disk meanwhile: refused, nothing lost
    assert "changed on disk" in page.message.text()
    assert page.settings.store.text("default").endswith("# elsewhere\n")


def test_profile_list_operations(qtbot: QtBot, panel: Panel, tmp_path: Path) -> None:
    page = open_settings(qtbot, panel)
    names = iter(["gpu", "gpu-big"])
    page.ask_text = lambda *_a, **_k: next(names)
    page.confirm = lambda *_a: True

    def click(button: str, signal: Any) -> None:
        with qtbot.waitSignal(signal, timeout=10_000):
            page.buttons[button].click()

    click("Duplicate", page.settings.done)
    assert page.current == "gpu" and "gpu" in page.settings.store.names()
    click("Use", page.settings.done)
    assert page.settings.store.active() == "gpu" and panel.profile.name == "gpu"
    assert "gpu is the active profile" in page.message.text()
    click("Rename", page.settings.done)
    assert page.settings.store.active() == "gpu-big" and panel.profile.name == "gpu-big"
    click("Delete", page.settings.refused)  # the active one: refused
    assert "in use" in page.message.text()
    assert "gpu-big" in page.settings.store.names()

    page.ask_text = lambda *_a, **_k: "laptop"
    click("New", page.settings.done)  # the defaults, selected and read for the editor
    assert page.current == "laptop" and "laptop" in page.settings.store.names()
    qtbot.waitUntil(lambda: "# Elite Coding Assistant profile" in page.raw.toPlainText())

    exported = tmp_path / "shared.toml"
    page.choose_file = lambda *_a: exported
    click("Export", page.settings.done)
    assert exported.read_text(encoding="utf-8") == page.settings.store.text("laptop")
    assert f"Exported to {exported}" in page.message.text()
    page.choose_file = lambda *_a: exported  # imported back under the file's name
    click("Import", page.settings.done)
    assert page.current == "shared" and "shared" in page.settings.store.names()
    broken = tmp_path / "broken.toml"
    broken.write_text('[runner]\nkind = "warp"\n', encoding="utf-8")
    page.choose_file = lambda *_a: broken
    click("Import", page.settings.refused)  # validated first: refused, nothing added
    assert "runner.kind" in page.message.text() and "broken" not in page.settings.store.names()


def test_a_profile_read_after_a_refusal_keeps_the_refusal_shown(qtbot: QtBot, panel: Panel) -> None:
    """Import a profile, then a broken one: the first one's view may be read after the second
    was refused, and must not wipe the refusal away."""
    page = open_settings(qtbot, panel)
    views: list[dict[str, Any]] = []
    page.settings.viewLoaded.connect(views.append)
    with qtbot.waitSignal(page.settings.viewLoaded, timeout=10_000):
        page.reload()
    page.settings.refused.emit("import", "runner.kind: Input should be 'builtin'")
    page.settings.viewLoaded.emit(views[-1])  # the selected profile's view, landing late
    assert "runner.kind" in page.message.text()


def test_secrets_page_on_the_real_keyring(qtbot: QtBot, panel: Panel, real_keyring: Home) -> None:
    page = open_page(panel, "secrets")
    assert isinstance(page, SecretsPage)
    page.confirm = lambda *_a: True
    qtbot.waitUntil(lambda: len(page.entries) >= 6, timeout=10_000)
    assert page.problem.isHidden()

    page.set_secret("MY_TOKEN", "gui-secret-value-4321")
    qtbot.waitUntil(lambda: any(e.name == "MY_TOKEN" for e in page.entries), timeout=10_000)
    row = [e.name for e in page.entries].index("MY_TOKEN")
    assert page.table.item(row, 1).text() == "set (keyring)"
    assert page.table.item(row, 2).text() == f"{HIDDEN}4321"

    page.table.selectRow(row)
    page.buttons["Reveal"].click()
    qtbot.waitUntil(lambda: page.table.item(row, 2).text() == "gui-secret-value-4321", timeout=5000)
    # Hidden again after reveal_ms (30 s): the timer is armed with it; its end is simulated.
    timer = page._hide_timer
    assert timer.isActive() and timer.interval() == page.reveal_ms == 30_000
    timer.stop()
    timer.timeout.emit()
    assert page.table.item(row, 2).text() == f"{HIDDEN}4321"

    page.buttons["Delete"].click()
    qtbot.waitUntil(lambda: all(e.name != "MY_TOKEN" for e in page.entries), timeout=10_000)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """keyring's own "nothing usable" backend, as on a machine without a Secret Service."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.mark.usefixtures("no_keyring")
def test_secrets_page_without_a_keyring(qtbot: QtBot, panel: Panel) -> None:
    page = open_page(panel, "secrets")
    qtbot.waitUntil(lambda: not page.problem.isHidden(), timeout=10_000)
    assert "no OS keyring" in page.problem.text()
    assert not page.buttons["Set"].isEnabled()


@pytest.mark.model
@pytest.mark.slow
def test_apply_restarts_only_what_the_change_affects(
    qtbot: QtBot, panel: Panel, home: Home
) -> None:
    panel.show("stack")
    panel.stack.start_stack()

    def pids() -> dict[str, int | None]:
        return {s.name: s.pid for s in panel.stack.statuses if s.state.value == "ready"}

    qtbot.waitUntil(lambda: len(pids()) == 2, timeout=90_000)
    before = pids()
    page = open_settings(qtbot, panel)
    asked: list[str] = []
    page.confirm = lambda _p, _t, text: asked.append(text) or True
    level = page.form.fields["logging.level"].widget
    assert isinstance(level, QComboBox)
    level.setCurrentText("DEBUG")
    with qtbot.waitSignal(page.settings.done, timeout=10_000):
        page.apply()
    assert "logging.level: 'INFO' → 'DEBUG'" in asked[0] and "Restarts: assistant." in asked[0]
    qtbot.waitUntil(
        lambda: pids().get("assistant") not in (None, before["assistant"]), timeout=60_000
    )
    assert pids()["runner"] == before["runner"]
    assistant = psutil.Process(int(pids()["assistant"] or 0))
    assert assistant.environ()["LOG_LEVEL"] == "DEBUG"


def test_start_at_login_writes_the_autostart_entry_and_about_says_where_data_is(
    qtbot: QtBot, panel: Panel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from elite_panel.core.autostart import START_STACK, entry_path

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    panel.show("settings")
    page = panel.window.page("settings")
    assert not page.autostart.isChecked() and not page.autostart_stack.isEnabled()  # type: ignore[attr-defined]
    page.autostart.setChecked(True)  # type: ignore[attr-defined]
    page.autostart_stack.setChecked(True)  # type: ignore[attr-defined]
    assert START_STACK in entry_path().read_text()
    page.autostart.setChecked(False)  # type: ignore[attr-defined]
    assert not entry_path().exists()

    qtbot.mouseClick(page.buttons["About"], Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    about = panel.about
    assert about is not None and about.isVisible()
    text = about.text.text()  # type: ignore[attr-defined]
    assert __version__ in text and str(panel.paths.config) in text and "MIT" in text
    about.close()


@pytest.mark.qt_log_ignore("systemTrayWindowChanged")  # offscreen has no tray to watch
def test_hidden_starts_in_the_tray_but_shows_the_window_without_one(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home
) -> None:
    for tray, shown in ((True, False), (False, True)):
        panel = Panel(AppPaths.from_env(), "default", use_tray=tray)
        qtbot.addWidget(panel.window)
        panel.show("chat", hidden=True)
        assert panel.window.isVisible() is shown
        panel.close()


def test_the_list_marks_the_profile_this_window_works_with(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home
) -> None:
    """`elite-panel --profile work` while the stored active profile is another one: the page
    marks and opens "work", and will not delete it from under the window."""
    paths = AppPaths.from_env()
    ProfileStore(paths).create("work")
    panel = Panel(paths, "work", use_tray=False)
    qtbot.addWidget(panel.window)
    try:
        page = open_settings(qtbot, panel)
        assert page.settings.store.active() == "default"
        marked = [page.profiles.item(i).text() for i in range(page.profiles.count())]
        assert "work  (active)" in marked and "default" in marked
        assert page.current == "work"
        page.confirm = lambda *_a: True
        page.buttons["Delete"].click()
        assert "in use" in page.message.text() and "work" in page.settings.store.names()
    finally:
        panel.close()
