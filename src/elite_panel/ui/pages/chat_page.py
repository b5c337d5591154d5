"""The Chat page: conversations on the left, the conversation and the prompt on the right.

Long conversations come a page at a time (the newest messages first, older pages from
the server on demand); a streaming answer updates only its tail once per frame; the view
follows the end unless the user scrolled up.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.chat_adapter import ChatAdapter
from elite_panel.chat import context_text
from elite_panel.chat.attachments import MAX_ATTACHMENT_BYTES
from elite_panel.chat.grouping import date_group
from elite_panel.chat.presets import PRESETS
from elite_panel.ui import theme
from elite_panel.ui.icons import icon
from elite_panel.ui.widgets.actions import tool_button
from elite_panel.ui.widgets.empty_state import EmptyState
from elite_panel.ui.widgets.group_headers import GROUP_ROLE, GroupHeaderDelegate
from elite_panel.ui.widgets.message_widget import MessageWidget, answer_figures
from elite_panel.ui.widgets.prompt_box import PromptBox

SEARCH_DEBOUNCE_MS = 250
COUNT_DEBOUNCE_MS = 250  # the draft is counted at most four times a second while typed
UNDO_DELETE_MS = 6000
FOLLOW_SLACK_PX = 24
EXAMPLE_PROMPT = "Write a Python function that merges two sorted lists, with tests."


class ChatPage(QWidget):
    """The Chat page: conversations on the left, the conversation and the prompt on the right.

    Args:
    chat: the adapter that talks to the assistant server (from the composition root).
    """

    title = "Chat"
    startStackRequested = Signal()

    def __init__(self, chat: ChatAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chat = chat
        self._earliest: str | None = None  # the oldest message shown (to page back from)
        self._answer: MessageWidget | None = None
        self._answer_model = ""  # from the answer's start event
        self._follow = True
        self._pending_delete: str | None = None
        self._hidden_earlier = 0  # messages older than the oldest shown
        self._omitted = 0  # of the conversation, left out of the newest answer's prompt
        self._window = 0

        # conversations
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(lambda: chat.refresh(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.conversations = QListWidget()
        self.conversations.setAccessibleName("Conversations")
        self.conversations.setItemDelegate(GroupHeaderDelegate(self.conversations))
        self.conversations.setTextElideMode(Qt.TextElideMode.ElideRight)  # the tooltip has it all
        self.conversations.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.conversations.itemActivated.connect(self._on_item_activated)
        self.conversations.itemClicked.connect(self._on_item_activated)
        self.new_button = QPushButton(icon("new"), "New")
        self.new_button.setToolTip("New conversation (Ctrl+N)")
        self.rename_button = tool_button("edit", "Rename", "Rename the selected conversation")
        self.pin_button = tool_button("pin", "Pin", "Pin or unpin: pinned ones stay on top")
        self.delete_button = tool_button("delete", "Delete", "Delete (it can be undone)")
        self.export_button = tool_button("export", "Export…", "Export as Markdown or JSON")
        self.new_button.clicked.connect(self.new_conversation)
        self.rename_button.clicked.connect(self._on_rename)
        self.pin_button.clicked.connect(self._on_pin)
        self.delete_button.clicked.connect(self._on_delete)
        self.export_button.clicked.connect(self._on_export)
        self.undo_bar = QWidget()
        self.undo_label = QLabel("Conversation deleted.")
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_delete)
        undo_row = QHBoxLayout(self.undo_bar)
        undo_row.setContentsMargins(0, 0, 0, 0)
        undo_row.addWidget(self.undo_label)
        undo_row.addWidget(self.undo_button)
        self.undo_bar.hide()
        self._delete_timer = QTimer(self)
        self._delete_timer.setSingleShot(True)
        self._delete_timer.setInterval(UNDO_DELETE_MS)
        self._delete_timer.timeout.connect(self._commit_delete)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.search)
        left_layout.addWidget(self.conversations, 1)
        buttons = QHBoxLayout()  # one row of icons: the column stays narrow
        buttons.addWidget(self.new_button, 1)
        for button in (self.rename_button, self.pin_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addWidget(self.export_button)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.undo_bar)

        # conversation
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
            ("Try an example", self.try_example),
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
        self.error_bar = QWidget()
        self.error_label = QLabel()
        self.error_label.setObjectName("streamError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(theme.error_style())
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self._on_retry)
        error_row = QHBoxLayout(self.error_bar)
        error_row.setContentsMargins(0, 0, 0, 0)
        error_row.addWidget(self.error_label, 1)
        error_row.addWidget(self.retry_button)
        self.error_bar.hide()
        # What the prompt takes of the model's window: a meter beside Send, a line above
        # the box when the draft will not fit or will leave earlier messages out, and a
        # divider in the thread where the newest answer's prompt began.
        self.context_meter = QLabel()
        self.context_meter.setObjectName("contextMeter")
        self.context_meter.setAccessibleName("Context window used")
        self.context_warning = QLabel()
        self.context_warning.setObjectName("contextWarning")
        self.context_warning.setWordWrap(True)
        self.context_warning.hide()
        self.divider = QLabel()
        self.divider.setObjectName("contextDivider")
        self.divider.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.divider.setWordWrap(True)
        self.divider.setStyleSheet(
            "color: palette(mid); border-top: 1px solid palette(mid); padding: 4px;"
        )
        self.divider.hide()
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DEBOUNCE_MS)
        self._count_timer.timeout.connect(self._count_draft)
        self.model = QComboBox()
        self.model.setMinimumWidth(140)
        self.model.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model.setMinimumContentsLength(14)
        self.model.setToolTip("Model for this conversation (remembered per conversation)")
        self.model.setAccessibleName("Model")
        self.prompt = PromptBox()
        self.prompt.submitted.connect(self.send)
        self.prompt.filesDropped.connect(self.attach_files)
        self._presets = dict(PRESETS)
        self.preset = QComboBox()
        self.preset.addItems(list(self._presets))
        self.preset.setToolTip("System prompt of new answers (edit it in the ⋯ menu)")
        self.preset.setAccessibleName("System prompt")
        self.attach_button = tool_button(
            "attach",
            "Attach…",
            f"Add text files to the prompt (or drop them on it; up to "
            f"{MAX_ATTACHMENT_BYTES // 1024} KB each)",
        )
        self.attach_button.clicked.connect(self._on_attach)
        self.more_button = tool_button("more", "More", "More actions on this conversation")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.more_button)
        self.regenerate_action = menu.addAction(icon("restart"), "Regenerate the last answer")
        self.regenerate_action.setShortcut(QKeySequence("Ctrl+R"))
        self.regenerate_action.triggered.connect(self.regenerate)
        self.edit_last_action = menu.addAction(icon("edit"), "Edit the last prompt")
        self.edit_last_action.setShortcut(QKeySequence("Ctrl+E"))
        self.edit_last_action.triggered.connect(self.edit_last)
        self.copy_last_action = menu.addAction(icon("copy"), "Copy the last answer")
        self.copy_last_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_last_action.triggered.connect(self.copy_last_answer)
        menu.addSeparator()
        menu.addAction("Edit the system prompt…", self._on_edit_preset)
        for action in menu.actions():
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)  # the shortcuts work while the page shows
        self.more_button.setMenu(menu)
        self.send_button = QPushButton(icon("send"), "Send")
        self.send_button.setToolTip("Send the prompt (Enter; Shift+Enter for a new line)")
        self.send_button.clicked.connect(lambda: self.send(self.prompt.toPlainText()))
        self.stop_button = QPushButton(icon("stop"), "Stop")
        self.stop_button.setToolTip("Stop the answer (Esc); the partial answer is kept")
        self.stop_button.clicked.connect(chat.stop)
        self.stop_button.setEnabled(False)
        # One compact row: what to use, the rarer actions behind ⋯, then Stop and Send.
        controls = QHBoxLayout()
        controls.addWidget(self.model, 2)
        controls.addWidget(self.preset, 1)
        controls.addWidget(self.attach_button)
        controls.addWidget(self.more_button)
        controls.addStretch(0)
        controls.addWidget(self.stop_button)
        controls.addWidget(self.send_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.heading)
        right_layout.addWidget(self.notice)
        right_layout.addWidget(self.scroll_area, 1)
        right_layout.addWidget(self.error_bar)
        right_layout.addLayout(controls)
        right_layout.addWidget(self.prompt)
        context_row = QHBoxLayout()  # under the box: what it takes, and what will not fit
        context_row.addWidget(self.context_warning, 1)
        context_row.addWidget(
            self.context_meter, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
        )
        right_layout.addLayout(context_row)

        # Tab reads the controls row, then the prompt, then what sends or stops it.
        for first, second in (
            (self.more_button, self.prompt),
            (self.prompt, self.stop_button),
            (self.stop_button, self.send_button),
        ):
            QWidget.setTabOrder(first, second)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("chatSplitter")  # its sizes are kept between runs
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 740])
        self.splitter.setCollapsible(1, False)
        self.conversation_list = left
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

        for keys, slot in (
            ("Ctrl+N", self.new_conversation),
            ("Ctrl+F", self.focus_search),
            ("Ctrl+L", self.prompt.setFocus),
            ("Esc", chat.stop),
            ("Ctrl+B", self.toggle_conversations),
        ):
            QShortcut(QKeySequence(keys), self, slot)

        chat.availableChanged.connect(self._on_available)
        chat.conversationsChanged.connect(self._on_conversations)
        chat.conversationLoaded.connect(self._on_loaded)
        chat.earlierLoaded.connect(self._on_earlier)
        chat.modelsChanged.connect(self._on_models)
        chat.streamStarted.connect(self._on_stream_started)
        chat.streamText.connect(self._on_stream_text)
        chat.streamFinished.connect(self._on_stream_finished)
        chat.streamFailed.connect(self._on_stream_failed)
        chat.failed.connect(self._show_notice)
        chat.failed.connect(lambda _m: self.earlier_button.setEnabled(True))  # (may retry)
        chat.attachmentRead.connect(self._on_attachment_read)
        chat.attachmentRefused.connect(self._show_notice)
        chat.promptRestored.connect(self._on_prompt_restored)
        chat.draftCounted.connect(self._on_draft_counted)
        self.prompt.textChanged.connect(self._count_timer.start)
        self.model.currentTextChanged.connect(lambda _t: self._count_timer.start())
        self.preset.currentTextChanged.connect(lambda _t: self._count_timer.start())
        self._on_available(chat.client is not None)

    # -- actions ------------------------------------------------------------------------

    def new_conversation(self) -> None:
        self.chat.new_conversation()
        self.conversations.clearSelection()
        self._hidden_earlier = 0
        self._count_timer.start()
        self.prompt.setFocus()

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def send(self, text: str) -> None:
        if not text.strip() or self.chat.streaming:
            return
        self.error_bar.hide()
        self._append_message({"role": "user", "content": text})
        self._answer = self._append_message({"role": "assistant", "content": ""})
        self._follow = True
        self.prompt.clear()
        self.stop_button.setEnabled(True)
        system = self._presets.get(self.preset.currentText())
        self.chat.send(text, self.model.currentText() or None, system)

    def ask(self, text: str, model: str = "") -> None:
        """Send ``text`` in a new conversation, with ``model`` when given (the welcome
        guide's first answer)."""
        self.new_conversation()
        if model:
            if self.model.findText(model) < 0:
                self.model.addItem(model)  # just pulled: the list is read again later
            self.model.setCurrentText(model)
        self.send(text)

    def regenerate(self) -> None:
        """Answer the last prompt again (Ctrl+R); the old answer goes."""
        if not self.chat.streaming:
            self.chat.take_back_last_prompt(resend=True)

    def edit_last(self) -> None:
        """Take the last prompt back into the box to change it (Ctrl+E)."""
        if not self.chat.streaming:
            self.chat.take_back_last_prompt(resend=False)

    def copy_last_answer(self) -> None:
        answers = [w for w in self._message_widgets() if w.role == "assistant"]
        if answers:
            answers[-1].copy()

    def try_example(self) -> None:
        """Put an example prompt in the box (the "no conversations yet" card's button)."""
        self.prompt.setPlainText(EXAMPLE_PROMPT)
        self.prompt.setFocus()

    def toggle_conversations(self) -> None:
        """Hide or show the conversation list (Ctrl+B): more room for the answer."""
        self.conversation_list.setVisible(not self.conversation_list.isVisible())

    def attach_files(self, paths: list[Path]) -> None:
        """Append each file to the prompt (read off the UI thread); a file that cannot be
        attached is named, with why."""
        self.chat.read_attachments(paths)
        self.prompt.setFocus()

    def _on_attachment_read(self, block: str) -> None:
        current = self.prompt.toPlainText().rstrip()
        self.prompt.setPlainText(f"{current}\n\n{block}" if current else block)

    def export_to(self, path: Path) -> None:
        conversation_id = self._selected_id()
        if conversation_id:
            fmt = "json" if path.suffix.lower() == ".json" else "markdown"
            self.chat.export(conversation_id, fmt, path)

    def undo_delete(self) -> None:
        self._delete_timer.stop()
        self._pending_delete = None
        self.undo_bar.hide()
        self.chat.refresh()

    # -- slots --------------------------------------------------------------------------

    def _count_draft(self) -> None:
        system = self._presets.get(self.preset.currentText())
        self.chat.count_draft(self.prompt.toPlainText(), self.model.currentText() or None, system)

    def _on_draft_counted(self, counted: dict[str, Any]) -> None:
        context = counted.get("context") or {}
        self.context_meter.setText(context_text.meter_text(context))
        self.context_meter.setToolTip(context_text.meter_tooltip(context))
        fits = bool(counted.get("fits", True))
        self.context_meter.setStyleSheet(theme.error_style(not fits))
        if not fits:
            warning = f"Too long to send: {counted.get('error')}"
        else:
            warning = context_text.omitted_text(context, will=True)
        self.context_warning.setText(warning)
        self.context_warning.setStyleSheet(theme.error_style(not fits))
        self.context_warning.setVisible(bool(warning))

    def _show_divider(self, context: dict[str, Any]) -> None:
        """The quiet line above the first message the newest answer's prompt held (none
        when it held them all, or when that message is on a page not shown)."""
        self._omitted = int(context.get("omitted_messages") or 0)
        self._window = int(context.get("window") or self._window)
        self.messages_layout.removeWidget(self.divider)
        widgets = self._message_widgets()
        position = self._omitted - self._hidden_earlier  # among the shown messages
        if not self._omitted or not 0 <= position < len(widgets):
            self.divider.hide()
            return
        self.divider.setText(context_text.omitted_text(context))
        self.messages_layout.insertWidget(
            self.messages_layout.indexOf(widgets[position]), self.divider
        )
        self.divider.show()

    def _on_available(self, available: bool) -> None:
        self.context_meter.setVisible(available)
        if available:
            self._count_timer.start()
            self.notice.hide()
        else:
            self._show_notice(
                "The assistant server is not running: start the stack (Stack page, or Ctrl+S)."
            )
        self._show_empty_state()

    def _show_empty_state(self) -> None:
        """The card an empty thread shows, if any (with the notice, the stack's state is
        said once: by the card when the thread is empty, else by the notice)."""
        empty = not self._message_widgets()
        available = self.chat.client is not None
        self.stopped_state.setVisible(empty and not available)
        self.first_state.setVisible(empty and available and self.conversations.count() == 0)
        if not available:
            self.notice.setVisible(not empty)

    def _show_notice(self, message: str) -> None:
        self.notice.setText(message)
        self.notice.show()

    def _on_conversations(self, conversations: list[dict[str, Any]]) -> None:
        current = self.chat.conversation_id
        self.conversations.clear()
        now = datetime.now().astimezone()
        previous = None
        for conversation in conversations:
            if conversation["id"] == self._pending_delete:
                continue
            title, owner = str(conversation["title"]), conversation.get("owner")
            # An API key's conversation (an editor's, on a team server): its name shown.
            item = QListWidgetItem(f"{title} · {owner}" if owner else title)
            item.setToolTip(f"{title}\nasked with the API key {owner!r}" if owner else title)
            item.setData(Qt.ItemDataRole.UserRole, conversation["id"])
            item.setData(Qt.ItemDataRole.UserRole + 1, conversation)
            updated = datetime.fromisoformat(str(conversation["updated_at"]))
            group = date_group(updated, now, bool(conversation["pinned"]))
            if group != previous:  # the first of its group carries the header
                item.setData(GROUP_ROLE, group)
                previous = group
            self.conversations.addItem(item)
            if conversation["id"] == current:
                item.setSelected(True)
                self.heading.setText(f"<b>{html.escape(str(conversation['title']))}</b>")
        self._show_empty_state()

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        if conversation_id != self.chat.conversation_id and not self.chat.streaming:
            self.chat.open(conversation_id)

    def _on_loaded(self, detail: dict[str, Any]) -> None:
        self.heading.setText(f"<b>{html.escape(str(detail.get('title', '')))}</b>")
        self.error_bar.hide()
        messages = list(detail.get("messages", []))
        self._earliest = None
        self._clear_thread()
        for message in messages:
            self._append_message(message)
        self._earlier_shown(messages, detail)
        answers = [m for m in messages if m.get("role") == "assistant" and m.get("context")]
        self._show_divider(answers[-1]["context"] if answers else {})
        self._count_timer.start()
        if detail.get("model"):
            index = self.model.findText(str(detail["model"]))
            if index >= 0:
                self.model.setCurrentIndex(index)
        self._follow = True

    def _show_earlier(self) -> None:
        if self._earliest:
            self.earlier_button.setEnabled(False)  # until the page has come
            self.chat.load_earlier(self._earliest)

    def _on_earlier(self, page: dict[str, Any]) -> None:
        messages = list(page.get("messages", []))
        self.messages_layout.removeWidget(self.divider)  # placed again below
        for offset, message in enumerate(messages):  # above the oldest shown
            self.messages_layout.insertWidget(3 + offset, self._message_widget(message))
        self._earlier_shown(messages, page)
        self._show_divider({"omitted_messages": self._omitted, "window": self._window})

    def _earlier_shown(self, messages: list[dict[str, Any]], page: dict[str, Any]) -> None:
        """After a page: where the next one starts, and how many older ones remain."""
        if messages:
            self._earliest = messages[0].get("id")
        earlier = int(page.get("earlier") or 0)
        self._hidden_earlier = earlier
        self.earlier_button.setText(f"Show earlier messages ({earlier:,} more)")
        self.earlier_button.setEnabled(True)
        self.earlier_button.setVisible(earlier > 0 and self._earliest is not None)

    def _on_models(self, models: list[str]) -> None:
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(models)
        if current in models:
            self.model.setCurrentText(current)

    def _on_stream_started(self, event: dict[str, Any]) -> None:
        self._answer_model = str(event.get("model", ""))
        if self._answer:
            self._answer.show_figures(self._answer_model)
        if "context" in event:
            self._show_divider(event["context"])

    def _on_stream_text(self, text: str) -> None:
        if self._answer:
            self._answer.body.stream_text(text)

    def _on_stream_finished(self, event: dict[str, Any]) -> None:
        self.stop_button.setEnabled(False)
        self._count_timer.start()
        if self._answer:
            self._answer.body.finish()
            figures = {**event.get("usage", {}), **event, "model": self._answer_model}
            self._answer.show_figures(answer_figures(figures))

    def _on_stream_failed(self, message: str, action: str) -> None:
        self.stop_button.setEnabled(False)
        if action == "shorten":  # refused whole: neither the prompt nor an answer stays
            for widget in self._message_widgets()[-2:]:
                self.messages_layout.removeWidget(widget)
                widget.hide()
                widget.deleteLater()
            self._answer = None
            self._offer_last_actions()
            self._show_empty_state()
        elif self._answer:
            self._answer.body.flush()
        self.error_label.setText(message)
        self.retry_button.setVisible(action == "retry")
        self.error_bar.show()

    def _on_prompt_restored(self, text: str, resend: bool) -> None:
        if resend:
            self.send(text)
        else:
            self.prompt.setPlainText(text)
            self.prompt.setFocus()

    def _on_retry(self) -> None:
        self.error_bar.hide()
        if self._answer and not self._answer.text():
            self._answer.deleteLater()
        self._answer = self._append_message({"role": "assistant", "content": ""})
        self.stop_button.setEnabled(True)
        self.chat.retry()

    def _on_attach(self) -> None:
        names, _filter = QFileDialog.getOpenFileNames(self, "Attach text files")
        self.attach_files([Path(name) for name in names])

    def _on_edit_preset(self) -> None:
        name = self.preset.currentText()
        text, ok = QInputDialog.getMultiLineText(
            self,
            f"System prompt: {name}",
            "Sent with each new answer (empty: the server's default):",
            self._presets.get(name) or "",
        )
        if ok:
            self._presets[name] = text.strip() or None

    def _on_rename(self) -> None:
        conversation_id = self._selected_id()
        if not conversation_id:
            return
        item = self.conversations.currentItem()
        current = str(item.data(Qt.ItemDataRole.UserRole + 1)["title"]) if item else ""
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=current)
        if ok and title.strip():
            self.chat.rename(conversation_id, title.strip())

    def _on_pin(self) -> None:
        item = self.conversations.currentItem()
        if item:
            data = item.data(Qt.ItemDataRole.UserRole + 1)
            self.chat.set_pinned(data["id"], not data["pinned"])

    def _on_delete(self) -> None:
        conversation_id = self._selected_id()
        if not conversation_id:
            return
        self._commit_delete()  # an earlier pending delete goes through now
        self._pending_delete = conversation_id
        self.conversations.takeItem(self.conversations.currentRow())
        if conversation_id == self.chat.conversation_id:
            self.chat.new_conversation()
        self.undo_bar.show()
        self._delete_timer.start()

    def _commit_delete(self) -> None:
        if self._pending_delete:
            self.chat.delete(self._pending_delete)
        self._pending_delete = None
        self.undo_bar.hide()

    def _on_export(self) -> None:
        if not self._selected_id():
            return
        path, _filter = QFileDialog.getSaveFileName(
            self, "Export conversation", "conversation.md", "Markdown (*.md);;JSON (*.json)"
        )
        if path:
            self.export_to(Path(path))

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.scroll_area.verticalScrollBar().setValue(maximum)

    def _on_scrolled(self, value: int) -> None:
        bar = self.scroll_area.verticalScrollBar()
        self._follow = value >= bar.maximum() - FOLLOW_SLACK_PX

    # -- helpers ------------------------------------------------------------------------

    def _selected_id(self) -> str | None:
        item = self.conversations.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def _message_widget(self, message: dict[str, Any]) -> MessageWidget:
        widget = MessageWidget(str(message.get("role")))
        widget.set_message(message)
        widget.regenerate_button.clicked.connect(self.regenerate)
        widget.edit_button.clicked.connect(self.edit_last)
        return widget

    def _append_message(self, message: dict[str, Any]) -> MessageWidget:
        widget = self._message_widget(message)
        self.messages_layout.insertWidget(self.messages_layout.count() - 1, widget)
        self._offer_last_actions()
        self._show_empty_state()
        return widget

    def _message_widgets(self) -> list[MessageWidget]:
        widgets = []
        for index in range(self.messages_layout.count()):
            item = self.messages_layout.itemAt(index)
            widget = item.widget() if item else None
            if isinstance(widget, MessageWidget):
                widgets.append(widget)
        return widgets

    def _offer_last_actions(self) -> None:
        """Regenerate on the last answer, Edit on the last prompt; not on older ones."""
        widgets = self._message_widgets()
        last = {w.role: w for w in widgets}
        for widget in widgets:
            widget.offer(
                regenerate=widget is last.get("assistant"), edit=widget is last.get("user")
            )

    def _clear_thread(self) -> None:
        self._answer = None
        self.messages_layout.removeWidget(self.divider)
        self.divider.hide()
        for widget in self._message_widgets():
            self.messages_layout.removeWidget(widget)
            widget.deleteLater()
        self._show_empty_state()
