"""The Models page offscreen, on the real assistant server in front of the Ollama double:
installed and loaded models, a pull in progress (bars, speed), Cancel leaving nothing,
a pull to the end, Delete with its confirmation."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from elite_panel.adapters.chat_adapter import ChatAdapter
from elite_panel.adapters.models_adapter import ModelsAdapter
from elite_panel.adapters.profile_service import ProfileService
from elite_panel.adapters.remote_adapter import RemoteAdapter
from elite_panel.adapters.stack_adapter import StackAdapter
from elite_panel.core.paths import AppPaths
from elite_panel.core.secret_store import SecretStore
from elite_panel.stack.control import ControlClient
from elite_panel.ui.pages.models_page import ModelsPage
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.conftest import Home
from tests.fakes import ollama_double

pytestmark = pytest.mark.gui
TOKEN = "models-page-token"


@pytest.fixture
def double() -> Iterator[ollama_double.OllamaDouble]:
    state = ollama_double.OllamaDouble()
    for url in ollama_double.serve_in_thread(ollama_double.build_app(state)):
        state.url = url
        yield state


@pytest.fixture
def page(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    home: Home,
    double: ollama_double.OllamaDouble,
    tmp_path: Path,
) -> Iterator[ModelsPage]:
    settings = Settings(
        api_token=TOKEN, backend_url=double.url, data_dir=tmp_path, rate_limit="off"
    )
    for url in ollama_double.serve_in_thread(create_app(settings)):
        paths = AppPaths.from_env()
        chat = ChatAdapter(paths)
        chat.connect_to(url, TOKEN)
        stack = StackAdapter(paths, ProfileService(paths, "default"), ControlClient(paths))
        models = ModelsAdapter(chat, stack, RemoteAdapter(functools.partial(SecretStore, paths)))
        widget = ModelsPage(models)
        qtbot.addWidget(widget)
        widget.show()
        yield widget
        models.close()
        chat.close()


def test_lists_pull_cancel_delete(
    qtbot: QtBot, page: ModelsPage, double: ollama_double.OllamaDouble
) -> None:
    qtbot.waitUntil(lambda: page.installed.rowCount() == 2, timeout=10_000)
    assert page.installed.item(0, 0).text() == "deepseek-r1:latest"
    # the window it runs with (Ollama's default num_ctx), of the one it was trained for
    assert page.installed.item(0, 3).text() == "4,096 of 8,192"
    assert page.installed.item(0, 4).text() == "Q4_K_M"
    qtbot.waitUntil(lambda: page.loaded.rowCount() == 1, timeout=5000)
    assert page.loaded.item(0, 2).text() == "100% GPU"

    double.delay_s, double.pull_steps = 0.1, 100
    page.pull_name.setText("gemma4")
    page.pull()
    qtbot.waitUntil(lambda: bool(page.layers) and page.total.value() > 0, timeout=10_000)
    bar = next(iter(page.layers.values()))
    assert 0 < bar.value() < 1000 and "s left" in page.rate.text()
    assert page.cancel_button.isEnabled() and not page.pull_button.isEnabled()
    cancelled = double.pulls_cancelled
    page.cancel_button.click()
    assert "Cancelled" in page.message.text()
    # Cancel reached the runner: its pull stopped there (and so registers nothing).
    qtbot.waitUntil(lambda: double.pulls_cancelled == cancelled + 1, timeout=10_000)
    assert all(m["name"] != "gemma4:latest" for m in double.installed)

    double.delay_s, double.pull_steps = 0.0, 5
    with qtbot.waitSignal(page.models.finished, timeout=10_000):
        page.pull()
    qtbot.waitUntil(lambda: page.installed.rowCount() == 3, timeout=10_000)

    page.confirm = lambda *_a: True
    page.installed.selectRow(2)
    with qtbot.waitSignal(page.models.finished, timeout=10_000):
        page.buttons["Delete"].click()
    qtbot.waitUntil(lambda: page.installed.rowCount() == 2, timeout=10_000)

    page.pull_name.setText("does-not-exist")
    with qtbot.waitSignal(page.models.failed, timeout=10_000):
        page.pull()
    assert "file does not exist" in page.message.text()


def test_details_unload_and_an_import_ollama_refuses(
    qtbot: QtBot, page: ModelsPage, double: ollama_double.OllamaDouble, tmp_path: Path
) -> None:
    qtbot.waitUntil(lambda: page.installed.rowCount() == 2, timeout=10_000)
    page.installed.selectRow(0)
    with qtbot.waitSignal(page.models.details, timeout=10_000):
        page.buttons["Details"].click()
    assert page.details.isVisible() and "parameters:" in page.details.toPlainText()

    qtbot.waitUntil(lambda: page.loaded.rowCount() == 1, timeout=5000)
    page.loaded.selectRow(0)
    loaded_name = page.loaded.item(0, 0).text()
    with qtbot.waitSignal(page.models.finished, timeout=10_000):
        page.buttons["Unload"].click()
    assert double.unloaded == [loaded_name]  # the runner was asked to free it

    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 64)
    page.choose_file = lambda *_a: gguf
    with qtbot.waitSignal(page.models.failed, timeout=10_000):
        page.buttons["Import GGUF"].click()
    assert "importing a GGUF file is for the built-in runner" in page.message.text()
    assert page.pull_button.isEnabled()  # the page is usable again


def test_no_models_installed_says_how_to_get_one(
    qtbot: QtBot, page: ModelsPage, double: ollama_double.OllamaDouble
) -> None:
    qtbot.waitUntil(lambda: page.installed.rowCount() == 2, timeout=10_000)
    installed, double.installed = double.installed, []
    try:
        page.models.refresh()
        qtbot.waitUntil(lambda: not page.empty.isHidden(), timeout=10_000)
        assert page.installed.isHidden() and "No models installed" in page.empty.title.text()
        assert page.empty.button is not None
        page.empty.button.click()
        assert page.pull_name.hasFocus() or QApplication.focusWidget() is page.pull_name
    finally:
        double.installed = installed
