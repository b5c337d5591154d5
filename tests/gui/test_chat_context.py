"""The Chat page and the model's context window: the composer's meter follows the draft and
its attachments, a draft that cannot fit is said before sending and refused whole when
sent, a divider marks where the newest answer's prompt began, and a 5,000-message
conversation opens on its newest page (against a live server and the Ollama double)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from elite_panel.adapters.chat_adapter import HISTORY_PAGE
from elite_panel.ui.pages.chat_page import ChatPage
from embedded_server.db.engine import Database
from embedded_server.db.store import ConversationStore, MessageDraft
from tests.fakes.ollama_double import OllamaDouble
from tests.gui.test_chat_page import double, page, server, stored, type_and_send

pytestmark = pytest.mark.gui
__all__ = ["double", "page", "server"]  # the chat page's fixtures, used here too

METER = re.compile(r"^≈?([\d,]+) / ([\d,]+) tokens$")


def used(page: ChatPage) -> int:
    """The tokens the meter shows (0 while it shows none)."""
    match = METER.match(page.composer.context_meter.text())
    return int(match.group(1).replace(",", "")) if match else 0


def words(count: int, seed: str = "w") -> str:
    """``count`` words of letters only (``seed`` then two letters): a token each for the
    double's tokenizer, a little more for the server's first estimate."""
    return " ".join(f"{seed}{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(count))


@pytest.fixture(autouse=True)
def _window(double: OllamaDouble, request: pytest.FixtureRequest) -> Iterator[None]:
    """The double's window: 4,096 tokens, or the test's ``window`` mark (set before the
    server starts: it keeps a model's window for a while)."""
    mark = request.node.get_closest_marker("window")
    double.num_ctx = mark.args[0] if mark else 4096
    yield
    double.num_ctx = None


def test_the_meter_follows_the_draft_and_its_attachment(
    qtbot: QtBot, page: ChatPage, tmp_path: Path
) -> None:
    qtbot.waitUntil(
        lambda: page.composer.context_meter.text().endswith("/ 4,096 tokens"), timeout=10_000
    )
    empty = used(page)  # the system prompt alone
    page.composer.prompt.setFocus()
    qtbot.keyClicks(page.composer.prompt, "Explain this function please")
    qtbot.waitUntil(lambda: used(page) > empty, timeout=5_000)
    typed = used(page)
    attached = tmp_path / "notes.txt"
    attached.write_text(words(300))
    page.attach_files([attached])
    qtbot.waitUntil(lambda: used(page) > typed + 290, timeout=5_000)
    assert page.composer.context_meter.text().startswith("≈")  # Ollama: estimated
    assert "4,096-token window" in page.composer.context_meter.toolTip()
    assert not page.composer.context_warning.isVisible()


def test_a_draft_too_long_is_said_before_sending_and_refused_whole(
    qtbot: QtBot, page: ChatPage, server: str, double: OllamaDouble
) -> None:
    asked = len(double.requests)
    page.composer.prompt.setPlainText(words(6000))
    qtbot.waitUntil(lambda: page.composer.context_warning.isVisible(), timeout=10_000)
    assert page.composer.context_warning.text().startswith("Too long to send:")
    assert "4,096 tokens" in page.composer.context_warning.text()
    page.send(page.composer.prompt.toPlainText())
    qtbot.waitUntil(lambda: page.thread_view.error_bar.isVisible(), timeout=10_000)
    assert "context window is 4,096 tokens" in page.thread_view.error_label.text()
    assert "larger context" in page.thread_view.error_label.text()  # what to do
    assert not page.thread_view.retry_button.isVisible()
    qtbot.waitUntil(lambda: page.composer.prompt.toPlainText() == words(6000), timeout=5_000)
    assert page.thread_view.column.message_widgets() == []
    assert stored(server) == [] and len(double.requests) == asked  # nothing kept or sent


@pytest.mark.window(1024)
def test_a_divider_marks_the_earlier_messages_left_out(
    qtbot: QtBot, page: ChatPage, double: OllamaDouble
) -> None:
    for turn in range(7):
        type_and_send(qtbot, page, words(150, "tuvwxyz"[turn]))
        qtbot.waitUntil(lambda: not page.composer.stop_button.isEnabled(), timeout=10_000)
        assert not page.thread_view.error_bar.isVisible(), page.thread_view.error_label.text()
    qtbot.waitUntil(lambda: page.thread_view.column.divider.isVisible(), timeout=5_000)
    assert re.match(
        r"\d+ earlier messages are beyond this model's 1,024-token window",
        page.thread_view.column.divider.text(),
    )
    omitted = int(page.thread_view.column.divider.text().split()[0])
    shown = page.thread_view.column.message_widgets()
    below = (
        page.thread_view.column.messages_layout.indexOf(page.thread_view.column.divider) + 1
    )  # the first message kept
    assert page.thread_view.column.messages_layout.itemAt(below).widget() is shown[omitted]
    sent = double.requests[-1]["messages"]
    assert sent[1]["content"] == shown[omitted].text()  # the system prompt, then that one
    # the conversation opened again shows it, from the stored answer's context
    conversation = page.chat.conversation_id
    assert conversation is not None
    page.new_conversation()
    assert not page.thread_view.column.divider.isVisible()
    page.chat.open(conversation)
    qtbot.waitUntil(lambda: page.thread_view.column.divider.isVisible(), timeout=5_000)
    assert page.thread_view.column.divider.text().startswith(f"{omitted} earlier messages")


def test_a_conversation_of_5000_messages_opens_on_its_newest_page(
    qtbot: QtBot, page: ChatPage, tmp_path: Path
) -> None:
    async def seed() -> str:
        database = Database(f"sqlite:///{tmp_path / 'srv' / 'assistant.db'}")
        store = ConversationStore(database)
        conversation = await store.add_turn(None, "a long one", [])
        roles = ("user", "assistant")
        drafts = [MessageDraft(roles[i % 2], f"turn {i}") for i in range(5000)]
        await store.add_turn(conversation, "", drafts)
        await database.dispose()
        return conversation

    with ThreadPoolExecutor(1) as pool:  # the test's own loop is Qt's
        conversation = pool.submit(asyncio.run, seed()).result()
    page.chat.refresh()
    qtbot.waitUntil(lambda: page.conversation_list.count() == 1, timeout=10_000)
    page.chat.open(conversation)
    qtbot.waitUntil(
        lambda: len(page.thread_view.column.message_widgets()) == HISTORY_PAGE, timeout=10_000
    )
    assert page.thread_view.column.message_widgets()[-1].text() == "turn 4999"
    assert (
        page.thread_view.column.earlier_button.text()
        == f"Show earlier messages ({5000 - HISTORY_PAGE:,} more)"
    )
