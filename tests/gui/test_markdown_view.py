"""The message body's links: only the Copy links the renderer made act."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from elite_panel.ui.widgets.markdown_view import MarkdownView

pytestmark = pytest.mark.gui


def test_links_in_the_models_text_do_nothing(qtbot: QtBot) -> None:
    view = MarkdownView()
    qtbot.addWidget(view)
    view.set_markdown_text("[x](copy:abc) [y](copy:0) [z](copy:99)\n\n```py\nprint(1)\n```\n")
    QGuiApplication.clipboard().setText("before")
    copied: list[int] = []
    view.codeCopied.connect(copied.append)
    for href in ("copy:abc", "copy:0", "copy:99", "copy:", "elite:quit"):
        view.anchorClicked.emit(QUrl(href))  # what a click on the model's link sends
    assert copied == [] and QGuiApplication.clipboard().text() == "before"
    own = re.findall(r'href="(copy:[0-9a-f]+-0)"', view.toHtml())
    assert own, view.toHtml()
    view.anchorClicked.emit(QUrl(own[0]))
    assert copied == [0] and QGuiApplication.clipboard().text() == "print(1)\n"
