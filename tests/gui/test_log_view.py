"""The Stack page's log view keeps only the lines of one request when asked (its id in the
search box, "Only these"), and shows them all again after."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from elite_panel.ui.widgets.log_view import LogView

pytestmark = pytest.mark.gui


def test_only_the_lines_of_one_request(qtbot: QtBot) -> None:
    view = LogView()
    qtbot.addWidget(view)
    for n, request in enumerate(("4f2a", "9c1e", "4f2a", "77d0")):
        view.append_line(f"INFO embedded_server.access [{request}]: GET /api/chat 200 (line {n})")
    view.search.setText("[4f2a]")
    view.only.setChecked(True)
    assert view.text.toPlainText().count("\n") == 1  # two lines
    assert "line 0" in view.text.toPlainText() and "line 2" in view.text.toPlainText()
    view.append_line("INFO [9c1e]: another request's line")
    view.append_line("INFO [4f2a]: this request's line")
    assert "another" not in view.text.toPlainText() and "this request's" in view.text.toPlainText()
    view.only.setChecked(False)
    assert view.text.toPlainText().count("\n") == 5  # all six again, in order
    view.reset()
    assert view.text.toPlainText() == "" and not view.lines
