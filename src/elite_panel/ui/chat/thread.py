"""The Chat page's conversation: its messages, a page at a time, and the answer streaming in.

Long conversations come a page at a time (the newest messages first, older pages from the
server on demand); a streaming answer updates only its tail once per frame; the view
follows the end unless the user scrolled up.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from elite_panel.chat import context_text
from elite_panel.client.records import ConversationDetail, Message, to_json
from elite_panel.ui import theme
from elite_panel.ui.widgets.empty_state import EmptyState
from elite_panel.ui.widgets.message_widget import MessageWidget, answer_figures

FOLLOW_SLACK_PX = 24
FIRST_MESSAGE = 3  # the layout's rows before the messages: earlier button, two empty states


class Thread(QWidget):
    """The open conversation: its title, a notice line, its messages (with Show earlier
    messages), a quiet divider above the first message the newest answer's prompt held,
    and an error bar with Retry.

    Signals:
        startStackRequested(): the empty thread's Start stack.
        exampleRequested(): the empty thread's Try an example.
        earlierRequested(str): the page before this message (its id) is wanted.
        retryRequested(): Retry under a failed answer.
        regenerateRequested(): Regenerate on the last answer.
        editRequested(): Edit on the last prompt.
    """

    startStackRequested = Signal()
    exampleRequested = Signal()
    earlierRequested = Signal(str)
    retryRequested = Signal()
    regenerateRequested = Signal()
    editRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.earliest: str | None = None  # the oldest message shown (to page back from)
        self.answer: MessageWidget | None = None  # the answer streaming or last streamed
        self._answer_model = ""  # from the answer's start event
        self._follow = True
        self._hidden_earlier = 0  # messages older than the oldest shown
        self._omitted = 0  # of the conversation, left out of the newest answer's prompt
        self._window = 0
        self._available = False
        self._any_conversation = False
        self.heading = QLabel("<b>New conversation</b>")
        self.notice = QLabel()
        self.notice.setObjectName("chatNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(theme.error_style())
        self.notice.hide()
        self.earlier_button = QPushButton("Show earlier messages")
        self.earlier_button.clicked.connect(self._show_earlier)
        self.earlier_button.hide()
        # What an empty thread shows: how to get the stack going, or a first question.
        self.stopped_state = EmptyState(
            "The assistant is not running",
            "Start the stack: the model runner and the assistant server are up in seconds, "
            "and stay up when this window closes.",
            ("Start stack", self.startStackRequested.emit),
        )
        self.first_state = EmptyState(
            "No conversations yet",
            "Ask anything below; answers stream in with their model and speed, and every "
            "conversation is kept and searchable.",
            ("Try an example", self.exampleRequested.emit),
        )
        self.messages_widget = QWidget()
        self.messages_layout = QVBoxLayout(self.messages_widget)
        self.messages_layout.addWidget(self.earlier_button)
        self.messages_layout.addWidget(self.stopped_state)
        self.messages_layout.addWidget(self.first_state)
        self.messages_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(self.messages_widget)
        bar = self.scroll_area.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)
        self.divider = QLabel()
        self.divider.setObjectName("contextDivider")
        self.divider.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.divider.setWordWrap(True)
        self.divider.setStyleSheet(
            "color: palette(mid); border-top: 1px solid palette(mid); padding: 4px;"
        )
        self.divider.hide()
        self.error_bar = QWidget()
        self.error_label = QLabel()
        self.error_label.setObjectName("streamError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(theme.error_style())
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self.retryRequested.emit)
        error_row = QHBoxLayout(self.error_bar)
        error_row.setContentsMargins(0, 0, 0, 0)
        error_row.addWidget(self.error_label, 1)
        error_row.addWidget(self.retry_button)
        self.error_bar.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.notice)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.error_bar)

    # -- what the page tells it ----------------------------------------------------------

    def set_title(self, title: str) -> None:
        self.heading.setText(f"<b>{html.escape(title)}</b>")

    def show_notice(self, message: str) -> None:
        self.notice.setText(message)
        self.notice.show()

    def set_available(self, available: bool, any_conversation: bool) -> None:
        """Whether the server answers, and whether any conversation exists: what an empty
        thread offers (with the notice, the stack's state is said once: by the card when
        the thread is empty, else by the notice)."""
        self._available, self._any_conversation = available, any_conversation
        if available:
            self.notice.hide()
        else:
            self.show_notice(
                "The assistant server is not running: start the stack (Stack page, or Ctrl+S)."
            )
        self._show_empty_state()

    def load(self, detail: ConversationDetail | None) -> None:
        """A conversation's newest page (its messages, and how many are ``earlier``), or
        ``None``: a new conversation."""
        self.set_title(detail.title if detail else "New conversation")
        self.error_bar.hide()
        messages = detail.messages if detail else ()
        self.earliest = None
        self.clear()
        for message in messages:
            self._add(self._stored(message))
        self._earlier_shown(messages, detail.earlier if detail else 0)
        answers = [m for m in messages if m.role == "assistant" and m.context]
        self._show_divider((answers[-1].context or {}) if answers else {})
        self._follow = True

    def add_earlier(self, page: ConversationDetail) -> None:
        """An older page, above the oldest message shown."""
        self.messages_layout.removeWidget(self.divider)  # placed again below
        for offset, message in enumerate(page.messages):
            self.messages_layout.insertWidget(FIRST_MESSAGE + offset, self._stored(message))
        self._earlier_shown(page.messages, page.earlier)
        self._show_divider({"omitted_messages": self._omitted, "window": self._window})

    def earlier_failed(self) -> None:
        self.earlier_button.setEnabled(True)  # (it may be asked again)

    def begin_answer(self, prompt: str) -> None:
        """The prompt sent, and an empty answer under it that the stream fills."""
        self.error_bar.hide()
        self._add(self._live("user", prompt))
        self.answer = self._add(self._live("assistant"))
        self._follow = True

    def answer_started(self, event: dict[str, Any]) -> None:
        self._answer_model = str(event.get("model", ""))
        if self.answer:
            self.answer.show_figures(self._answer_model)
        if "context" in event:
            self._show_divider(event["context"])

    def answer_text(self, text: str) -> None:
        if self.answer:
            self.answer.body.stream_text(text)

    def answer_finished(self, event: dict[str, Any]) -> None:
        if self.answer:
            self.answer.body.finish()
            figures = {**event.get("usage", {}), **event, "model": self._answer_model}
            self.answer.show_figures(answer_figures(figures))

    def answer_failed(self, message: str, action: str) -> None:
        """A failed answer: the error and what to do; a prompt refused whole (``shorten``)
        leaves the thread, as neither it nor an answer was kept."""
        if action == "shorten":
            for widget in self.message_widgets()[-2:]:
                self.messages_layout.removeWidget(widget)
                widget.hide()
                widget.deleteLater()
            self.answer = None
            self._offer_last_actions()
            self._show_empty_state()
        elif self.answer:
            self.answer.body.flush()
        self.error_label.setText(message)
        self.retry_button.setVisible(action == "retry")
        self.error_bar.show()

    def retry_answer(self) -> None:
        """A new empty answer in place of the failed one."""
        self.error_bar.hide()
        if self.answer and not self.answer.text():
            self.answer.deleteLater()
        self.answer = self._add(self._live("assistant"))

    def copy_last_answer(self) -> None:
        answers = [w for w in self.message_widgets() if w.role == "assistant"]
        if answers:
            answers[-1].copy()

    def clear(self) -> None:
        self.answer = None
        self._hidden_earlier = 0
        self.messages_layout.removeWidget(self.divider)
        self.divider.hide()
        for widget in self.message_widgets():
            self.messages_layout.removeWidget(widget)
            widget.deleteLater()
        self._show_empty_state()

    def message_widgets(self) -> list[MessageWidget]:
        widgets = []
        for index in range(self.messages_layout.count()):
            item = self.messages_layout.itemAt(index)
            widget = item.widget() if item else None
            if isinstance(widget, MessageWidget):
                widgets.append(widget)
        return widgets

    # -- inside ----------------------------------------------------------------------------

    def _show_divider(self, context: dict[str, Any]) -> None:
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

    def _show_empty_state(self) -> None:
        empty = not self.message_widgets()
        self.stopped_state.setVisible(empty and not self._available)
        self.first_state.setVisible(empty and self._available and not self._any_conversation)
        if not self._available:
            self.notice.setVisible(not empty)

    def _show_earlier(self) -> None:
        if self.earliest:
            self.earlier_button.setEnabled(False)  # until the page has come
            self.earlierRequested.emit(self.earliest)

    def _earlier_shown(self, messages: Sequence[Message], earlier: int) -> None:
        """After a page: where the next one starts, and how many older ones remain."""
        if messages:
            self.earliest = messages[0].id
        self._hidden_earlier = earlier
        self.earlier_button.setText(f"Show earlier messages ({earlier:,} more)")
        self.earlier_button.setEnabled(True)
        self.earlier_button.setVisible(earlier > 0 and self.earliest is not None)

    def _stored(self, message: Message) -> MessageWidget:
        """A stored message's widget (its text, and an answer's figures)."""
        widget = self._live(message.role, message.content)
        if message.role == "assistant":
            widget.show_figures(answer_figures(to_json(message)))
        return widget

    def _live(self, role: str, content: str = "") -> MessageWidget:
        """A message's widget: a prompt sent now, or an answer about to stream in."""
        widget = MessageWidget(role)
        widget.set_text(content)
        widget.regenerate_button.clicked.connect(self.regenerateRequested.emit)
        widget.edit_button.clicked.connect(self.editRequested.emit)
        return widget

    def _add(self, widget: MessageWidget) -> MessageWidget:
        """``widget`` at the end of the thread."""
        self.messages_layout.insertWidget(self.messages_layout.count() - 1, widget)
        self._offer_last_actions()
        self._show_empty_state()
        return widget

    def _offer_last_actions(self) -> None:
        """Regenerate on the last answer, Edit on the last prompt; not on older ones."""
        widgets = self.message_widgets()
        last = {w.role: w for w in widgets}
        for widget in widgets:
            widget.offer(
                regenerate=widget is last.get("assistant"), edit=widget is last.get("user")
            )

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.scroll_area.verticalScrollBar().setValue(maximum)

    def _on_scrolled(self, value: int) -> None:
        bar = self.scroll_area.verticalScrollBar()
        self._follow = value >= bar.maximum() - FOLLOW_SLACK_PX
