"""The Chat page: the conversations on the left, the open one and the composer on the right.

The page puts three widgets together (:mod:`elite_panel.ui.chat`: the conversation list,
the thread, the composer) and wires them to the chat adapter; each does one job.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from elite_panel.adapters.chat_adapter import ChatAdapter
from elite_panel.client.records import Conversation, ConversationDetail
from elite_panel.ui.chat.composer import Composer
from elite_panel.ui.chat.conversation_list import ConversationList
from elite_panel.ui.chat.thread import Thread

if TYPE_CHECKING:
    from elite_panel.adapters.projects_adapter import ProjectsAdapter
    from elite_panel.projects.mentions import Reference

EXAMPLE_PROMPT = "Write a Python function that merges two sorted lists, with tests."


class ChatPage(QWidget):
    """The Chat page.

    Args:
    chat: the adapter that talks to the assistant server (from the composition root).
    projects: the project index (``@``-mentions completed, their sources opened).
    """

    title = "Chat"
    startStackRequested = Signal()

    def __init__(
        self,
        chat: ChatAdapter,
        projects: ProjectsAdapter | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.chat = chat
        self.conversation_list = ConversationList()
        self.thread_view = Thread()
        self.composer = Composer()
        for action in self.composer.menu_actions:
            self.addAction(action)  # its shortcuts work while the page shows
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.thread_view, 1)
        right_layout.addWidget(self.composer)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("chatSplitter")  # its sizes are kept between runs
        self.splitter.addWidget(self.conversation_list)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 740])
        self.splitter.setCollapsible(1, False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)
        for keys, slot in (
            ("Ctrl+N", self.new_conversation),
            ("Ctrl+F", self.conversation_list.focus_search),
            ("Ctrl+L", self.composer.prompt.setFocus),
            ("Esc", chat.stop),
            ("Ctrl+B", self.toggle_conversations),
        ):
            QShortcut(QKeySequence(keys), self, slot)

        conversations = self.conversation_list
        conversations.searchChanged.connect(chat.refresh)
        conversations.openRequested.connect(self._open)
        conversations.newRequested.connect(self.new_conversation)
        conversations.renameRequested.connect(chat.rename)
        conversations.pinRequested.connect(chat.set_pinned)
        conversations.deletePending.connect(self._on_delete_pending)
        conversations.deleteCommitted.connect(chat.delete)
        conversations.undone.connect(chat.refresh)
        conversations.exportRequested.connect(self._export)
        thread = self.thread_view
        thread.startStackRequested.connect(self.startStackRequested.emit)
        thread.exampleRequested.connect(self.try_example)
        thread.earlierRequested.connect(chat.load_earlier)
        thread.retryRequested.connect(self._retry)
        thread.regenerateRequested.connect(self.regenerate)
        thread.editRequested.connect(self.edit_last)
        composer = self.composer
        composer.sendRequested.connect(self.send)
        composer.stopRequested.connect(chat.stop)
        composer.attachRequested.connect(self.attach_files)
        composer.regenerateRequested.connect(self.regenerate)
        composer.editRequested.connect(self.edit_last)
        composer.copyRequested.connect(thread.copy_last_answer)
        composer.countRequested.connect(chat.count_draft)

        chat.availableChanged.connect(self._on_available)
        chat.conversationsChanged.connect(self._on_conversations)
        chat.conversationLoaded.connect(self._on_loaded)
        chat.earlierLoaded.connect(thread.add_earlier)
        chat.modelsChanged.connect(composer.set_models)
        chat.streamStarted.connect(thread.answer_started)
        chat.streamText.connect(thread.answer_text)
        chat.streamFinished.connect(self._on_stream_finished)
        chat.streamFailed.connect(self._on_stream_failed)
        chat.failed.connect(thread.show_notice)
        chat.failed.connect(lambda _m: thread.earlier_failed())
        chat.attachmentRead.connect(composer.append_block)
        chat.attachmentRefused.connect(thread.show_notice)
        chat.promptRestored.connect(self._on_prompt_restored)
        chat.draftCounted.connect(composer.show_count)
        chat.sourcesFound.connect(self._on_sources)
        if projects is not None:
            composer.prompt.complete_mentions(projects.mention_candidates)
            thread.citationRequested.connect(projects.open_citation)
        self._on_available(chat.client is not None)

    def _on_sources(self, reference: Reference) -> None:
        cited = [(h.project, h.chunk.path, h.chunk.start, h.chunk.end) for h in reference.sources]
        self.thread_view.answer_sources(cited, reference.left_out)

    # -- actions ------------------------------------------------------------------------

    def new_conversation(self) -> None:
        self.chat.new_conversation()
        self.conversation_list.clear_selection()
        self.composer.count_soon()
        self.composer.prompt.setFocus()

    def send(self, text: str) -> None:
        if not text.strip() or self.chat.streaming:
            return
        self.thread_view.begin_answer(text)
        self.composer.prompt.clear()
        self.composer.set_streaming(True)
        self.chat.send(text, self.composer.model_name(), self.composer.system_prompt())

    def ask(self, text: str, model: str = "") -> None:
        """Send ``text`` in a new conversation, with ``model`` when given (the welcome
        guide's first answer)."""
        self.new_conversation()
        if model:
            self.composer.select_model(model, add=True)  # just pulled: listed again later
        self.send(text)

    def regenerate(self) -> None:
        """Answer the last prompt again (Ctrl+R); the old answer goes."""
        if not self.chat.streaming:
            self.chat.take_back_last_prompt(resend=True)

    def edit_last(self) -> None:
        """Take the last prompt back into the box to change it (Ctrl+E)."""
        if not self.chat.streaming:
            self.chat.take_back_last_prompt(resend=False)

    def try_example(self) -> None:
        """Put an example prompt in the box (the "no conversations yet" card's button)."""
        self.composer.set_text(EXAMPLE_PROMPT)

    def toggle_conversations(self) -> None:
        """Hide or show the conversation list (Ctrl+B): more room for the answer."""
        self.conversation_list.setVisible(not self.conversation_list.isVisible())

    def attach_files(self, paths: list[Path]) -> None:
        """Append each file to the prompt (read off the UI thread); a file that cannot be
        attached is named, with why."""
        self.chat.read_attachments(paths)
        self.composer.prompt.setFocus()

    def export_to(self, path: Path) -> None:
        """Write the selected conversation to ``path`` (``.json``: JSON, else Markdown)."""
        conversation_id = self.conversation_list.selected_id()
        if conversation_id:
            self._export(conversation_id, path)

    # -- slots --------------------------------------------------------------------------

    def _open(self, conversation_id: str) -> None:
        if conversation_id != self.chat.conversation_id and not self.chat.streaming:
            self.chat.open(conversation_id)

    def _export(self, conversation_id: str, path: Path) -> None:
        fmt = "json" if path.suffix.lower() == ".json" else "markdown"
        self.chat.export(conversation_id, fmt, path)

    def _on_delete_pending(self, conversation_id: str) -> None:
        if conversation_id == self.chat.conversation_id:
            self.chat.new_conversation()

    def _on_available(self, available: bool) -> None:
        self.composer.set_meter_visible(available)
        if available:
            self.composer.count_soon()
        self.thread_view.set_available(available, self.conversation_list.count() > 0)

    def _on_conversations(self, conversations: list[Conversation]) -> None:
        current = self.conversation_list.set_conversations(conversations, self.chat.conversation_id)
        if current is not None:
            self.thread_view.set_title(current.title)
        self.thread_view.set_available(
            self.chat.client is not None, self.conversation_list.count() > 0
        )

    def _on_loaded(self, detail: ConversationDetail | None) -> None:
        self.thread_view.load(detail)
        self.composer.count_soon()
        if detail and detail.model:
            self.composer.select_model(detail.model)

    def _on_stream_finished(self, event: dict[str, Any]) -> None:
        self.composer.set_streaming(False)
        self.composer.count_soon()
        self.thread_view.answer_finished(event)

    def _on_stream_failed(self, message: str, action: str) -> None:
        self.composer.set_streaming(False)
        self.thread_view.answer_failed(message, action)

    def _on_prompt_restored(self, text: str, resend: bool) -> None:
        if resend:
            self.send(text)
        else:
            self.composer.set_text(text)

    def _retry(self) -> None:
        self.thread_view.retry_answer()
        self.composer.set_streaming(True)
        self.chat.retry()
