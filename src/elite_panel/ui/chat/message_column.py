"""The scrolling column of a conversation's message widgets: paged back on demand, marked
where the newest answer's prompt began, following the end unless the user scrolled up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from elite_panel.chat import context_text
from elite_panel.client.records import Message
from elite_panel.ui.widgets.message_widget import MessageWidget

FOLLOW_SLACK_PX = 24


class MessageColumn(QScrollArea):
    """Message widgets in order, with Show earlier messages above them, placeholders (what
    an empty thread shows) and a quiet divider above the first message the newest answer's
    prompt held.

    Signals:
        earlierRequested(str): the page before this message (its id) is wanted.
    """

    earlierRequested = Signal(str)

    def __init__(self, placeholders: Sequence[QWidget], parent: QWidget | None = None) -> None:
        """``placeholders``: widgets above the messages (shown while there are none)."""
        super().__init__(parent)
        self.earliest: str | None = None  # the oldest message shown (to page back from)
        self.following = True
        self._hidden_earlier = 0  # messages older than the oldest shown
        self._omitted = 0  # of the conversation, left out of the newest answer's prompt
        self._window = 0
        self.earlier_button = QPushButton("Show earlier messages")
        self.earlier_button.clicked.connect(self._show_earlier)
        self.earlier_button.hide()
        self.divider = QLabel()
        self.divider.setObjectName("contextDivider")
        self.divider.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.divider.setWordWrap(True)
        self.divider.setStyleSheet(
            "color: palette(mid); border-top: 1px solid palette(mid); padding: 4px;"
        )
        self.divider.hide()
        inside = QWidget()
        self.messages_layout = QVBoxLayout(inside)
        self.messages_layout.addWidget(self.earlier_button)
        for placeholder in placeholders:
            self.messages_layout.addWidget(placeholder)
        self._first_message = self.messages_layout.count()
        self.messages_layout.addStretch(1)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(inside)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)

    def message_widgets(self) -> list[MessageWidget]:
        widgets = []
        for index in range(self.messages_layout.count()):
            item = self.messages_layout.itemAt(index)
            widget = item.widget() if item else None
            if isinstance(widget, MessageWidget):
                widgets.append(widget)
        return widgets

    def append(self, widget: MessageWidget) -> None:
        """``widget`` at the end."""
        self.messages_layout.insertWidget(self.messages_layout.count() - 1, widget)

    def add_earlier(
        self, widgets: Sequence[MessageWidget], messages: Sequence[Message], earlier: int
    ) -> None:
        """An older page's ``widgets`` (of its ``messages``; ``earlier`` older ones remain)
        above the oldest shown, the divider placed again."""
        self.messages_layout.removeWidget(self.divider)
        for offset, widget in enumerate(widgets):
            self.messages_layout.insertWidget(self._first_message + offset, widget)
        self.page_shown(messages, earlier)
        self.show_divider({"omitted_messages": self._omitted, "window": self._window})

    def remove(self, widgets: Sequence[MessageWidget]) -> None:
        for widget in widgets:
            self.messages_layout.removeWidget(widget)
            widget.hide()
            widget.deleteLater()

    def clear(self) -> None:
        """No messages, no earlier page, no divider."""
        self.earliest = None
        self._hidden_earlier = 0
        self.messages_layout.removeWidget(self.divider)
        self.divider.hide()
        self.remove(self.message_widgets())

    def page_shown(self, messages: Sequence[Message], earlier: int) -> None:
        """After a page: where the next one starts, and how many older ones remain."""
        if messages:
            self.earliest = messages[0].id
        self._hidden_earlier = earlier
        self.earlier_button.setText(f"Show earlier messages ({earlier:,} more)")
        self.earlier_button.setEnabled(True)
        self.earlier_button.setVisible(earlier > 0 and self.earliest is not None)

    def show_divider(self, context: dict[str, Any]) -> None:
        """The quiet line above the first message the newest answer's prompt held (none
        when it held them all, or when that message is on a page not shown)."""
        self._omitted = int(context.get("omitted_messages") or 0)
        self._window = int(context.get("window") or self._window)
        self.messages_layout.removeWidget(self.divider)
        widgets = self.message_widgets()
        position = self._omitted - self._hidden_earlier  # among the shown messages
        if not self._omitted or not 0 <= position < len(widgets):
            self.divider.hide()
            return
        self.divider.setText(context_text.omitted_text(context))
        self.messages_layout.insertWidget(
            self.messages_layout.indexOf(widgets[position]), self.divider
        )
        self.divider.show()

    def _show_earlier(self) -> None:
        if self.earliest:
            self.earlier_button.setEnabled(False)  # until the page has come
            self.earlierRequested.emit(self.earliest)

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self.following:
            self.verticalScrollBar().setValue(maximum)

    def _on_scrolled(self, value: int) -> None:
        self.following = value >= self.verticalScrollBar().maximum() - FOLLOW_SLACK_PX
