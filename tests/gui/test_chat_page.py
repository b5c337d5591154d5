"""The Chat page offscreen, against a live assistant server backed by the Ollama double."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication, QInputDialog
from pytestqt.qtbot import QtBot

from elite_panel.adapters.chat_adapter import ChatAdapter
from elite_panel.core.paths import AppPaths
from elite_panel.ui.pages.chat_page import ChatPage
from elite_panel.ui.widgets.group_headers import GROUP_ROLE
from elite_panel.ui.widgets.message_widget import MessageWidget
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

pytestmark = pytest.mark.gui
TOKEN = "gui-token"


@pytest.fixture(scope="module")
def double() -> Iterator[OllamaDouble]:
    state = OllamaDouble()
    for url in serve_in_thread(build_app(state)):
        state.url = url
        yield state


@pytest.fixture
def server(double: OllamaDouble, tmp_path: Path) -> Iterator[str]:
    double.answer, double.delay_s, double.drop_final = OllamaDouble.answer, 0.0, False
    settings = Settings(
        api_token=TOKEN, backend_url=double.url, data_dir=tmp_path / "srv", rate_limit="off"
    )
    yield from serve_in_thread(create_app(settings))


@pytest.fixture
def page(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, server: str, tmp_path: Path
) -> Iterator[ChatPage]:
    adapter = ChatAdapter(AppPaths.from_env({"ELITE_HOME": str(tmp_path / "home")}))
    widget = ChatPage(adapter)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    adapter.connect_to(server, TOKEN)
    qtbot.waitUntil(lambda: widget.composer.model.count() > 0, timeout=10_000)
    widget.composer.model.setCurrentText("llama3.2:latest")
    yield widget
    adapter.close()


def stored(server: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    page = httpx.get(f"{server}/api/conversations", headers=headers).json()
    return [
        httpx.get(f"{server}/api/conversations/{c['id']}", headers=headers).json()
        for c in page["conversations"]
    ]


def type_and_send(qtbot: QtBot, page: ChatPage, text: str) -> None:
    page.composer.prompt.setFocus()
    qtbot.keyClicks(page.composer.prompt, text)
    qtbot.keyClick(page.composer.prompt, Qt.Key.Key_Return)


def test_send_streams_the_answer_with_its_figures(
    qtbot: QtBot, page: ChatPage, double: OllamaDouble
) -> None:
    type_and_send(qtbot, page, "Show me print in Python")
    assert page.composer.prompt.toPlainText() == ""  # Enter sent it
    answer = page.thread_view.answer
    assert answer is not None
    qtbot.waitUntil(lambda: "tokens" in answer.figures.text(), timeout=10_000)
    assert answer.text() == double.answer
    assert "print" in answer.body.toPlainText()
    assert answer.figures.text().startswith("llama3.2:latest · first token")
    assert answer.body.code(0) == "print('hi')\n"  # the code block's Copy gets its code
    qtbot.waitUntil(lambda: page.conversation_list.count() == 1, timeout=5_000)
    assert page.conversation_list.model.index(0).data() == "Show me print in Python"


def test_shift_enter_makes_a_new_line(qtbot: QtBot, page: ChatPage) -> None:
    page.composer.prompt.setFocus()
    qtbot.keyClicks(page.composer.prompt, "line one")
    qtbot.keyClick(page.composer.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(page.composer.prompt, "line two")
    assert page.composer.prompt.toPlainText() == "line one\nline two"
    assert page.thread_view.answer is None


def test_stop_keeps_the_partial_answer(
    qtbot: QtBot, page: ChatPage, double: OllamaDouble, server: str
) -> None:
    double.answer = " ".join(f"w{i}" for i in range(400))
    double.delay_s = 0.01
    type_and_send(qtbot, page, "long one")
    answer = page.thread_view.answer
    assert answer is not None
    qtbot.waitUntil(lambda: len(answer.text()) > 20, timeout=10_000)
    qtbot.keyClick(page.composer.prompt, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.thread_view.error_bar.isVisible(), timeout=5_000)
    assert "Stopped" in page.thread_view.error_label.text()
    assert 0 < len(answer.text()) < len(double.answer)
    qtbot.waitUntil(
        lambda: stored(server)[0]["messages"][-1]["status"] == "incomplete", timeout=10_000
    )
    assert stored(server)[0]["messages"][-1]["content"].startswith("w0 w1")


def test_backend_dying_shows_the_error_and_keeps_the_partial(
    qtbot: QtBot, page: ChatPage, double: OllamaDouble
) -> None:
    double.drop_final = True
    type_and_send(qtbot, page, "hello")
    qtbot.waitUntil(lambda: page.thread_view.error_bar.isVisible(), timeout=10_000)
    assert "without finishing" in page.thread_view.error_label.text()
    assert "partial answer is kept" in page.thread_view.error_label.text()
    assert page.thread_view.retry_button.isVisible()
    assert page.thread_view.answer is not None and page.thread_view.answer.text() == double.answer
    double.drop_final = False
    qtbot.mouseClick(
        page.thread_view.retry_button, Qt.MouseButton.LeftButton
    )  # the app still responds
    qtbot.waitUntil(lambda: "tokens" in page.thread_view.answer.figures.text(), timeout=10_000)  # type: ignore[union-attr]
    assert not page.thread_view.error_bar.isVisible()


def test_a_missing_model_is_advised_by_the_errors_code(
    qtbot: QtBot, page: ChatPage, double: OllamaDouble
) -> None:
    """The advice follows the server's error code, not the words of the message."""
    removed = double.find("llama3.2:latest")
    assert removed is not None
    double.installed.remove(removed)  # deleted from the runner while the panel lists it
    try:
        type_and_send(qtbot, page, "hello")
        qtbot.waitUntil(lambda: page.thread_view.error_bar.isVisible(), timeout=10_000)
        assert "Pick another model, or pull this one" in page.thread_view.error_label.text()
        assert "check the runner" not in page.thread_view.error_label.text()
    finally:
        double.installed.append(removed)


def test_search_finds_an_old_conversation(qtbot: QtBot, page: ChatPage) -> None:
    for prompt in ("Explain Rust lifetimes", "Sort a dict by value", "Python decorators"):
        type_and_send(qtbot, page, prompt)
        qtbot.waitUntil(lambda: not page.chat.streaming, timeout=10_000)
        qtbot.keyClick(page, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: page.conversation_list.count() == 3, timeout=5_000)
    qtbot.keyClick(page, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.conversation_list.search.hasFocus()
    qtbot.keyClicks(page.conversation_list.search, "lifeti")
    qtbot.waitUntil(lambda: page.conversation_list.count() == 1, timeout=5_000)
    assert page.conversation_list.model.index(0).data() == "Explain Rust lifetimes"
    page.conversation_list.select_row(0)
    qtbot.mouseClick(
        page.conversation_list.conversations.viewport(),
        Qt.MouseButton.LeftButton,
        pos=page.conversation_list.conversations.visualRect(
            page.conversation_list.model.index(0)
        ).center(),
    )
    qtbot.waitUntil(
        lambda: "Explain Rust lifetimes" in page.thread_view.heading.text(), timeout=5_000
    )
    qtbot.keyClick(page, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert page.composer.prompt.hasFocus()


def test_export_writes_the_file_and_delete_can_be_undone(
    qtbot: QtBot, page: ChatPage, tmp_path: Path
) -> None:
    type_and_send(qtbot, page, "Export me")
    qtbot.waitUntil(lambda: page.conversation_list.count() == 1, timeout=10_000)
    page.conversation_list.select_row(0)
    target = tmp_path / "out.md"
    page.export_to(target)
    qtbot.waitUntil(
        lambda: target.exists() and target.read_text().startswith("# Export me"), timeout=5_000
    )
    qtbot.mouseClick(page.conversation_list.delete_button, Qt.MouseButton.LeftButton)
    assert page.conversation_list.count() == 0 and page.conversation_list.undo_bar.isVisible()
    qtbot.mouseClick(page.conversation_list.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.conversation_list.count() == 1, timeout=5_000)


def test_without_a_server_the_page_says_what_to_do(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    adapter = ChatAdapter(AppPaths.from_env({"ELITE_HOME": str(tmp_path)}))
    widget = ChatPage(adapter)
    qtbot.addWidget(widget)
    widget.show()
    # an empty thread says it with a card and its button; a thread with messages, in a line
    assert (
        widget.thread_view.stopped_state.isVisible() and not widget.thread_view.notice.isVisible()
    )
    with qtbot.waitSignal(widget.startStackRequested):
        qtbot.mouseClick(widget.thread_view.stopped_state.button, Qt.MouseButton.LeftButton)
    type_and_send(qtbot, widget, "hello?")
    assert (
        widget.thread_view.error_bar.isVisible()
        and "not running" in widget.thread_view.error_label.text()
    )
    assert (
        widget.thread_view.notice.isVisible()
        and "start the stack" in widget.thread_view.notice.text()
    )
    assert not widget.thread_view.stopped_state.isVisible()


def test_attached_files_go_into_the_prompt_within_a_limit(
    qtbot: QtBot, page: ChatPage, tmp_path: Path
) -> None:
    source = tmp_path / "util.py"
    source.write_text("def twice(x):\n    return 2 * x\n")
    page.composer.prompt.setPlainText("Review this:")
    page.attach_files([source])  # read off the UI thread
    qtbot.waitUntil(lambda: "File `util.py`" in page.composer.prompt.toPlainText(), timeout=5000)
    text = page.composer.prompt.toPlainText()
    assert text.startswith("Review this:\n\nFile `util.py`:")
    assert "```python\ndef twice(x):\n    return 2 * x\n```" in text
    big = tmp_path / "huge.log"
    big.write_text("x" * (300 * 1024))
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00\x80" * 10)
    page.attach_files([big])
    qtbot.waitUntil(
        lambda: "huge.log: 300 KB is over the 256 KB limit" in page.thread_view.notice.text()
    )
    page.attach_files([binary])
    qtbot.waitUntil(lambda: "blob.bin: not UTF-8 text" in page.thread_view.notice.text())
    assert page.composer.prompt.toPlainText() == text  # nothing half-added


def test_dropping_a_file_on_the_prompt_attaches_it(
    qtbot: QtBot, page: ChatPage, tmp_path: Path
) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    source = tmp_path / "notes.md"
    source.write_text("# Notes\n")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(source))])
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    page.composer.prompt.dropEvent(event)
    qtbot.waitUntil(lambda: "File `notes.md`:" in page.composer.prompt.toPlainText(), timeout=5000)


def test_system_prompt_preset_is_sent(qtbot: QtBot, page: ChatPage, double: OllamaDouble) -> None:
    type_and_send(qtbot, page, "default first")
    qtbot.waitUntil(lambda: not page.chat.streaming, timeout=10_000)
    assert "Elite Coding Assistant" in double.requests[-1]["messages"][0]["content"]
    page.composer.preset.setCurrentText("Code reviewer")
    type_and_send(qtbot, page, "then a review")
    qtbot.waitUntil(lambda: not page.chat.streaming, timeout=10_000)
    assert double.requests[-1]["messages"][0]["content"].startswith("You review code")


def test_regenerate_and_edit_the_last_prompt(
    qtbot: QtBot, page: ChatPage, server: str, double: OllamaDouble
) -> None:
    type_and_send(qtbot, page, "first prompt")
    qtbot.waitUntil(
        lambda: not page.chat.streaming and page.chat.conversation_id is not None, timeout=10_000
    )
    type_and_send(qtbot, page, "second prompt")
    qtbot.waitUntil(lambda: not page.chat.streaming, timeout=10_000)
    double.answer = "a regenerated answer"
    messages = page.thread_view.column.message_widgets()
    # the actions show while the pointer is over a message; only the last ones offer these
    assert messages[-1].actions_bar.isHidden()
    point = QPointF(5, 5)
    QApplication.sendEvent(messages[-1], QEnterEvent(point, point, point))
    assert not messages[-1].actions_bar.isHidden()
    QApplication.sendEvent(messages[-1], QEvent(QEvent.Type.Leave))
    assert messages[-1].actions_bar.isHidden()
    assert [not m.regenerate_button.isHidden() for m in messages] == [False, False, False, True]
    assert [not m.edit_button.isHidden() for m in messages] == [False, False, True, False]
    qtbot.mouseClick(messages[-1].regenerate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            [m["content"] for m in stored(server)[0]["messages"]]
            == ["first prompt", OllamaDouble.answer, "second prompt", "a regenerated answer"]
        ),
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: not page.chat.streaming, timeout=10_000)
    page.composer.edit_last_action.trigger()  # Ctrl+E, or the ⋯ menu
    qtbot.waitUntil(lambda: page.composer.prompt.toPlainText() == "second prompt", timeout=10_000)
    assert [m["role"] for m in stored(server)[0]["messages"]] == ["user", "assistant"]


def test_view_follows_the_end_unless_scrolled_up(
    qtbot: QtBot, page: ChatPage, double: OllamaDouble
) -> None:
    double.answer = " ".join(f"line{i}\n\n" for i in range(300))
    double.delay_s = 0.005
    bar = page.thread_view.column.verticalScrollBar()
    type_and_send(qtbot, page, "a long answer")
    qtbot.waitUntil(lambda: bar.maximum() > 500, timeout=10_000)
    assert bar.value() == bar.maximum()  # following the end
    bar.setValue(0)  # the user scrolls up to read
    qtbot.waitUntil(lambda: bar.maximum() > 1500, timeout=10_000)
    assert bar.value() == 0  # left where the user is
    qtbot.waitUntil(lambda: not page.chat.streaming, timeout=20_000)


def test_rename_pin_and_show_earlier_messages(
    qtbot: QtBot, page: ChatPage, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    first = None
    for turn in range(23):  # 46 messages: the view shows the newest 20, then 20 more...
        body: dict[str, Any] = {
            "model": "llama3.2",
            "messages": [{"role": "user", "content": f"question {turn}"}],
        }
        if first:
            body["conversation_id"] = first
        events = httpx.post(f"{server}/api/chat", json=body, headers=headers, timeout=30).text
        first = first or json.loads(events.splitlines()[0])["conversation_id"]
    httpx.post(
        f"{server}/api/chat",
        json={"model": "llama3.2", "messages": [{"role": "user", "content": "other"}]},
        headers=headers,
        timeout=30,
    )
    page.chat.refresh()
    qtbot.waitUntil(lambda: page.conversation_list.count() == 2, timeout=10_000)
    assert page.conversation_list.model.index(0).data() == "other"  # the newest first

    page.conversation_list.select_row(1)
    page.chat.open(first)
    qtbot.waitUntil(lambda: len(page.findChildren(MessageWidget)) == 20, timeout=10_000)
    assert page.thread_view.column.earlier_button.isVisible()
    assert page.thread_view.column.earlier_button.text() == "Show earlier messages (26 more)"
    oldest, page.thread_view.column.earliest = (
        page.thread_view.column.earliest,
        "gone",
    )  # a message deleted meanwhile: refused
    page.thread_view.column.earlier_button.click()
    qtbot.waitUntil(lambda: "gone" in page.thread_view.notice.text(), timeout=10_000)
    assert (
        page.thread_view.column.earlier_button.isEnabled()
        and len(page.findChildren(MessageWidget)) == 20
    )
    page.thread_view.column.earliest = oldest
    page.thread_view.column.earlier_button.click()  # the next page, from the server
    qtbot.waitUntil(lambda: len(page.findChildren(MessageWidget)) == 40, timeout=10_000)
    assert (
        page.thread_view.column.earlier_button.isVisible()
        and page.thread_view.column.earlier_button.isEnabled()
    )
    assert page.thread_view.column.earlier_button.text() == "Show earlier messages (6 more)"
    page.thread_view.column.earlier_button.click()
    qtbot.waitUntil(lambda: len(page.findChildren(MessageWidget)) == 46, timeout=10_000)
    assert not page.thread_view.column.earlier_button.isVisible()
    shown = [w.text() for w in page.thread_view.column.message_widgets() if w.role == "user"]
    assert shown == [f"question {turn}" for turn in range(23)]  # in order, oldest on top
    page.chat.new_conversation()
    assert not page.thread_view.column.earlier_button.isVisible()

    monkeypatch.setattr(QInputDialog, "getText", lambda *_a, **_k: ("The long one", True))
    page.conversation_list.rename_button.click()
    qtbot.waitUntil(
        lambda: page.conversation_list.model.index(1).data() == "The long one", timeout=10_000
    )
    page.conversation_list.select_row(1)
    page.conversation_list.pin_button.click()  # pinned ones come first, marked
    qtbot.waitUntil(
        lambda: page.conversation_list.model.index(0).data() == "The long one", timeout=10_000
    )
    # Listed under headers: pinned first, then by day (the first of each group names it).
    assert page.conversation_list.model.index(0).data(GROUP_ROLE) == "Pinned"
    assert page.conversation_list.model.index(1).data(GROUP_ROLE) == "Today"


def test_an_editors_conversation_shows_its_keys_name(
    qtbot: QtBot, page: ChatPage, server: str, tmp_path: Path
) -> None:
    """What a coding tool asked with an API key is listed with the key's name."""
    import os

    from tests.server.conftest import run_server

    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "srv")}
    created = run_server(env, "keys", "create", "editor-alice")
    assert created.returncode == 0, created.stderr
    key = {"Authorization": f"Bearer {created.stdout.strip()}"}
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "fix my loop"}]}
    assert httpx.post(f"{server}/v1/chat/completions", json=body, headers=key).status_code == 200
    page.chat.refresh()
    qtbot.waitUntil(lambda: page.conversation_list.count() == 1, timeout=10_000)
    item = page.conversation_list.model.index(0)
    assert item.data() == "fix my loop · editor-alice"
    assert "editor-alice" in item.data(Qt.ItemDataRole.ToolTipRole)
