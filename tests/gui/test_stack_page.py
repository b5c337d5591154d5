"""The Stack page offscreen, on the real stack: Start, the states it shows, Stop."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from tests.conftest import REPO, Home

pytestmark = pytest.mark.gui
SOURCE = (REPO / "embedded_server" / "services" / "chat.py").read_text()


@pytest.mark.model
@pytest.mark.slow
def test_start_shows_states_then_stop(qtbot: QtBot, panel: Panel, home: Home) -> None:
    panel.show("stack")
    page = panel.window.page("stack")
    cards = page.cards  # type: ignore[attr-defined]
    assert cards["runner"].badge.text() == "stopped"
    assert panel.window.stack_state.text() == "Stack: stopped"

    seen: set[str] = set()
    panel.stack.statusChanged.connect(lambda statuses: seen.update(s.state.value for s in statuses))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: all(c.badge.text() == "ready" for c in cards.values()), timeout=60_000)
    assert "starting" in seen
    assert cards["runner"].kind.text() == "builtin"
    assert cards["assistant"].url.text() == f"http://127.0.0.1:{home.assistant_port}"
    assert cards["runner"].pid.text().isdigit()
    assert panel.window.stack_state.text().startswith("Stack: ready")
    assert not page.start_button.isEnabled()  # type: ignore[attr-defined]
    # The log view follows the service's output.
    qtbot.waitUntil(
        lambda: "Uvicorn running" in page.logs["assistant"].text.toPlainText(),  # type: ignore[attr-defined]
        timeout=20_000,
    )

    # A card's Restart restarts its service only; "Restart stack" restarts both.
    runner_pid, assistant_pid = cards["runner"].pid.text(), cards["assistant"].pid.text()
    qtbot.mouseClick(cards["assistant"].restart_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            cards["assistant"].badge.text() == "ready"
            and cards["assistant"].pid.text() not in ("", "-", assistant_pid)
        ),
        timeout=60_000,
    )
    assert cards["runner"].pid.text() == runner_pid
    assistant_pid = cards["assistant"].pid.text()
    qtbot.mouseClick(page.restart_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    qtbot.waitUntil(
        lambda: (
            all(c.badge.text() == "ready" for c in cards.values())
            and cards["runner"].pid.text() not in ("", "-", runner_pid)
            and cards["assistant"].pid.text() not in ("", "-", assistant_pid)
        ),
        timeout=90_000,
    )

    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    qtbot.waitUntil(
        lambda: all(c.badge.text() == "stopped" for c in cards.values()), timeout=30_000
    )
    qtbot.waitUntil(lambda: not home.processes(), timeout=20_000)
    assert panel.window.stack_state.text() == "Stack: stopped"


def test_start_error_is_shown_on_the_page(
    qtbot: QtBot, panel: Panel, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELITE_RUNNER__KIND", "external")
    monkeypatch.setenv("ELITE_RUNNER__URL", "http://127.0.0.1:9")  # nothing answers there
    panel.show("stack")
    page = panel.window.page("stack")
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: page.error.isVisible(), timeout=60_000)  # type: ignore[attr-defined]
    assert "did not start" in page.error.text()  # type: ignore[attr-defined]
    assert "runner" in page.error.text()  # type: ignore[attr-defined]
    assert panel.window.isVisible()


@pytest.mark.model
@pytest.mark.slow
def test_chat_end_to_end_with_the_bundled_model(qtbot: QtBot, panel: Panel, home: Home) -> None:
    panel.show("chat")
    chat = panel.window.page("chat")
    assert chat.thread_view.stopped_state.isVisible()  # type: ignore[attr-defined]  # not started yet
    qtbot.mouseClick(chat.thread_view.stopped_state.button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: panel.chat.client is not None, timeout=60_000)
    assert not chat.thread_view.stopped_state.isVisible()  # type: ignore[attr-defined]
    assert chat.thread_view.first_state.isVisible()  # type: ignore[attr-defined]  # no conversations yet
    qtbot.waitUntil(lambda: chat.composer.model.count() > 0, timeout=10_000)  # type: ignore[attr-defined]
    # A 46 KB file pasted: the meter counts it against the model's trained window, the
    # warning says so before sending, and Send is refused with the numbers, the draft kept.
    paste = "Explain this code: " + (SOURCE * 4)[:46_000]
    chat.composer.prompt.setPlainText(paste)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: chat.composer.context_warning.isVisible(), timeout=10_000)  # type: ignore[attr-defined]
    assert chat.composer.context_meter.text().endswith(" / 8,192 tokens")  # type: ignore[attr-defined]
    assert "8,192 tokens" in chat.composer.context_warning.text()  # type: ignore[attr-defined]
    qtbot.keyClick(chat.composer.prompt, Qt.Key.Key_Return)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: chat.thread_view.error_bar.isVisible(), timeout=10_000)  # type: ignore[attr-defined]
    assert "context window is 8,192 tokens" in chat.thread_view.error_label.text()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: chat.composer.prompt.toPlainText() == paste, timeout=5_000)  # type: ignore[attr-defined]
    chat.composer.prompt.setPlainText("Write a Python function that adds two numbers.")  # type: ignore[attr-defined]
    qtbot.keyClick(chat.composer.prompt, Qt.Key.Key_Return)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "tokens" in chat.thread_view.answer.figures.text(), timeout=60_000)  # type: ignore[attr-defined]
    assert chat.thread_view.answer.text().strip()  # type: ignore[attr-defined]
    assert "tok/s" in chat.thread_view.answer.figures.text()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: chat.conversation_list.count() == 1, timeout=10_000)  # type: ignore[attr-defined]
    assert not chat.thread_view.first_state.isVisible()  # type: ignore[attr-defined]
    panel.quit()  # stop_on_quit: the stack goes down with the panel
    qtbot.waitUntil(lambda: panel.finished.is_set(), timeout=30_000)
    qtbot.waitUntil(lambda: not home.processes(), timeout=20_000)


def test_a_broken_profile_is_shown_not_fatal(qtbot: QtBot, panel: Panel, home: Home) -> None:
    profiles = home.root / "config" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "default.toml").write_text("[stack]\nstop_on_quit = 'maybe'\n")
    panel.show("stack")
    panel.check_profile()
    page = panel.window.page("stack")
    qtbot.waitUntil(lambda: page.error.isVisible(), timeout=10_000)  # type: ignore[attr-defined]
    assert "stack.stop_on_quit = 'maybe'" in page.error.text()  # type: ignore[attr-defined]
    assert "default.toml:2" in page.error.text()  # type: ignore[attr-defined]
    assert "Profile error" in panel.window.statusBar().currentMessage()
