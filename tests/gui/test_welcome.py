"""The welcome guide end to end: a first start with no profile detects this machine's
runners, starts the real stack with the recommended one and ends in a first answer."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QRadioButton
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.core.paths import AppPaths
from elite_panel.ui.pages.chat_page import ChatPage
from elite_panel.ui.pages.welcome_page import WelcomePage
from elite_panel.ui.widgets.message_widget import MessageWidget
from tests.conftest import Home
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

pytestmark = pytest.mark.gui


@pytest.fixture
def first_start(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Panel]:
    """A panel on a home with no profile, the runner left to the guide (no variable)."""
    monkeypatch.delenv("ELITE_RUNNER__KIND")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no `ollama` here, whatever the machine has
    panel = Panel(AppPaths.from_env(), "default", use_tray=False)
    panel.window.resize(1280, 720)
    qtbot.addWidget(panel.window)
    yield panel
    panel.close()


def welcome_page(panel: Panel) -> WelcomePage:
    page = panel.window.pages["welcome"].build()  # type: ignore[attr-defined]
    assert isinstance(page, WelcomePage)
    return page


def options(page: WelcomePage) -> list[str]:
    return [b.text() for b in page.runner_box.findChildren(QRadioButton) if not b.isHidden()]


@pytest.mark.model
def test_first_run_detects_the_builtin_runner_starts_it_and_answers(
    qtbot: QtBot, first_start: Panel, home: Home
) -> None:
    panel = first_start
    panel.show()
    assert panel.window.current_page() == "welcome"  # no profile yet: the guide first
    page = welcome_page(panel)
    qtbot.waitUntil(lambda: page.start_button.isEnabled(), timeout=30_000)
    found = options(page)
    assert found[0].startswith("Built-in runner (recommended)")  # no GPU, no Ollama here
    assert page.runner_group.checkedId() == 0
    assert not page.model_box.isEnabled() and not page.ask_box.isEnabled()

    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.ask_box.isEnabled(), timeout=180_000)
    assert "bundled SmolLM2-135M" in page.model_text.text() and page.pull_button.isHidden()
    profile = tomllib.loads((home.root / "config" / "profiles" / "default.toml").read_text())
    assert profile["runner"]["kind"] == "builtin"  # the choice is kept in the profile

    qtbot.mouseClick(page.ask_button, Qt.MouseButton.LeftButton)
    assert panel.window.current_page() == "chat"
    chat = panel.window.page("chat")
    assert isinstance(chat, ChatPage)
    qtbot.waitUntil(
        lambda: chat.chat.conversation_id is not None and not chat.chat.streaming,
        timeout=120_000,
    )
    answer = [w for w in chat.thread_view.column.message_widgets() if w.role == "assistant"][-1]
    assert isinstance(answer, MessageWidget) and answer.text().strip()
    assert "SmolLM2" in answer.figures.text()  # answered by the bundled model

    again = Panel(panel.paths, "default", use_tray=False)  # the next start: no guide
    qtbot.addWidget(again.window)
    assert not again.first_run.is_first()
    again.close()


def test_skip_leaves_the_guide_for_good(qtbot: QtBot, first_start: Panel) -> None:
    first_start.show()
    page = welcome_page(first_start)
    qtbot.mouseClick(page.skip_button, Qt.MouseButton.LeftButton)
    assert first_start.window.current_page() == "chat"
    assert not first_start.first_run.is_first()
    # reachable again from the Settings page
    first_start.show("settings")
    settings = first_start.window.pages["settings"].build()  # type: ignore[attr-defined]
    qtbot.mouseClick(settings.buttons["Welcome guide"], Qt.MouseButton.LeftButton)
    assert first_start.window.current_page() == "welcome"
    row = list(first_start.window.pages).index("welcome")
    assert not first_start.window.sidebar.item(row).isHidden()  # listed while it shows
    first_start.window.show_page("chat")
    assert first_start.window.sidebar.item(row).isHidden()


@pytest.fixture
def ollama(monkeypatch: pytest.MonkeyPatch) -> Iterator[OllamaDouble]:
    """The Ollama double, answering where the profile looks for an Ollama."""
    double = OllamaDouble(pull_steps=40, delay_s=0.05)
    for url in serve_in_thread(build_app(double)):
        monkeypatch.setenv("ELITE_RUNNER__URL", url)
        yield double


def test_an_answering_ollama_is_offered_with_a_model_to_pull_that_can_be_cancelled(
    qtbot: QtBot, first_start: Panel, ollama: OllamaDouble
) -> None:
    """The Ollama double stands in for an Ollama already running: the guide uses it as an
    external runner and pulls the coding model with progress; Cancel keeps nothing."""
    first_start.show()
    page = welcome_page(first_start)
    qtbot.waitUntil(lambda: page.start_button.isEnabled(), timeout=30_000)
    assert options(page)[0].startswith("The Ollama already running (recommended)")
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.ask_box.isEnabled(), timeout=60_000)
    assert page.model_text.text().startswith("qwen2.5-coder:1.5b")  # no GPU: the smallest
    qtbot.mouseClick(page.pull_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.pull_progress.value() > 0, timeout=30_000)
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.pull_progress.isHidden(), timeout=10_000)
    assert "Cancelled" in page.model_text.text()
    assert "qwen2.5-coder:1.5b" not in ollama.model_names()
    ollama.delay_s = 0.0
    qtbot.mouseClick(page.pull_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Pulled" in page.model_text.text(), timeout=30_000)
    assert "qwen2.5-coder:1.5b" in ollama.model_names()
    assert page.model_name == "qwen2.5-coder:1.5b"  # the first answer's model
