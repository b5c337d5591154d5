"""The Chat page's conversation: its title, its messages (a :class:`MessageColumn`), the
answer streaming in, and what an empty or failed thread offers.

Long conversations come a page at a time (the newest messages first, older pages from the
server on demand); a streaming answer updates only its tail once per frame.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from elite_panel.client.records import ConversationDetail, Message, to_json
from elite_panel.ui import theme
from elite_panel.ui.chat.message_column import MessageColumn
from elite_panel.ui.widgets.empty_state import EmptyState
from elite_panel.ui.widgets.message_widget import MessageWidget, answer_figures


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
        citationRequested(str, str, int): a source of an answer clicked: its project,
            path and line.
    """

    startStackRequested = Signal()
    exampleRequested = Signal()
    earlierRequested = Signal(str)
    retryRequested = Signal()
    regenerateRequested = Signal()
    editRequested = Signal()
    citationRequested = Signal(str, str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.answer: MessageWidget | None = None  # the answer streaming or last streamed
        self._answer_model = ""  # from the answer's start event
        self._available = False
        self._any_conversation = False
        self.heading = QLabel("<b>New conversation</b>")
        self.notice = QLabel()
        self.notice.setObjectName("chatNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(theme.error_style())
        self.notice.hide()
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
        self.column = MessageColumn((self.stopped_state, self.first_state))
        self.column.earlierRequested.connect(self.earlierRequested.emit)
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
        layout.addWidget(self.column, 1)
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
        self.clear()
        for message in messages:
            self._add(self._stored(message))
        self.column.page_shown(messages, detail.earlier if detail else 0)
        answers = [m for m in messages if m.role == "assistant" and m.context]
        self.column.show_divider((answers[-1].context or {}) if answers else {})
        self.column.following = True

    def add_earlier(self, page: ConversationDetail) -> None:
        """An older page, above the oldest message shown."""
        widgets = [self._stored(message) for message in page.messages]
        self.column.add_earlier(widgets, page.messages, page.earlier)

    def earlier_failed(self) -> None:
        self.column.earlier_button.setEnabled(True)  # (it may be asked again)

    def begin_answer(self, prompt: str) -> None:
        """The prompt sent, and an empty answer under it that the stream fills."""
        self.error_bar.hide()
        self._add(self._live("user", prompt))
        self.answer = self._add(self._live("assistant"))
        self.column.following = True

    def answer_started(self, event: dict[str, Any]) -> None:
        self._answer_model = str(event.get("model", ""))
        if self.answer:
            self.answer.show_figures(self._answer_model)
        if "context" in event:
            self.column.show_divider(event["context"])

    def answer_sources(self, cited: list[tuple[str, str, int, int]], left_out: int) -> None:
        """The project code the streaming answer was given."""
        if self.answer:
            self.answer.show_sources(cited, left_out)

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
            self.column.remove(self.column.message_widgets()[-2:])
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
        answers = [w for w in self.column.message_widgets() if w.role == "assistant"]
        if answers:
            answers[-1].copy()

    def clear(self) -> None:
        self.answer = None
        self.column.clear()
        self._show_empty_state()

    # -- inside ----------------------------------------------------------------------------

    def _show_empty_state(self) -> None:
        empty = not self.column.message_widgets()
        self.stopped_state.setVisible(empty and not self._available)
        self.first_state.setVisible(empty and self._available and not self._any_conversation)
        if not self._available:
            self.notice.setVisible(not empty)

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
        widget.citationClicked.connect(self.citationRequested.emit)
        return widget

    def _add(self, widget: MessageWidget) -> MessageWidget:
        """``widget`` at the end of the thread."""
        self.column.append(widget)
        self._offer_last_actions()
        self._show_empty_state()
        return widget

    def _offer_last_actions(self) -> None:
        """Regenerate on the last answer, Edit on the last prompt; not on older ones."""
        widgets = self.column.message_widgets()
        last = {w.role: w for w in widgets}
        for widget in widgets:
            widget.offer(
                regenerate=widget is last.get("assistant"), edit=widget is last.get("user")
            )
