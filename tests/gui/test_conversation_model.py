"""The conversation list's model: sound by Qt's rules (pytest-qt's model tester), one row per
conversation in the server's order, date headers on the first of each group, an API key's
conversations named by its key."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester

from elite_panel.client.records import Conversation
from elite_panel.ui.chat.conversation_model import ID_ROLE, RECORD_ROLE, ConversationListModel
from elite_panel.ui.widgets.group_headers import GROUP_ROLE

pytestmark = pytest.mark.gui

NOW = datetime(2026, 12, 6, 15, 0).astimezone()


def record(
    id_: str, title: str, age: timedelta, pinned: bool = False, owner: str | None = None
) -> Conversation:
    updated = NOW - age
    return Conversation(id_, title, pinned, None, updated, updated, owner)


RECORDS = [
    record("p", "Pinned plan", timedelta(days=40), pinned=True),
    record("a", "Refactor the parser", timedelta(hours=1)),
    record("b", "fix my loop", timedelta(hours=3), owner="editor-alice"),
    record("c", "Rust lifetimes", timedelta(days=1)),
]


def test_the_model_passes_qts_model_tests(qtmodeltester: ModelTester) -> None:
    model = ConversationListModel(NOW)
    qtmodeltester.check(model)  # empty
    model.set_conversations(RECORDS)
    qtmodeltester.check(model, force_py=True)
    model.remove("b")
    qtmodeltester.check(model, force_py=True)


def test_rows_headers_and_an_api_keys_conversation() -> None:
    model = ConversationListModel(NOW)
    model.set_conversations(RECORDS)
    rows = [model.index(row) for row in range(model.rowCount())]
    assert [i.data() for i in rows] == [
        "Pinned plan",
        "Refactor the parser",
        "fix my loop · editor-alice",
        "Rust lifetimes",
    ]
    assert [i.data(GROUP_ROLE) for i in rows] == ["Pinned", "Today", None, "Yesterday"]
    assert "asked with the API key 'editor-alice'" in rows[2].data(Qt.ItemDataRole.ToolTipRole)
    assert rows[1].data(ID_ROLE) == "a" and rows[1].data(RECORD_ROLE).title == "Refactor the parser"
    assert model.row_of("c") == 3 and model.row_of("zz") == -1
    model.remove("a")  # the headers follow: "fix my loop" now opens Today
    assert [model.index(r).data(GROUP_ROLE) for r in range(3)] == ["Pinned", "Today", "Yesterday"]
