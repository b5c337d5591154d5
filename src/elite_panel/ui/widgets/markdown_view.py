"""A message body that grows cheaply while its answer streams in.

Closed blocks are inserted once at the end of the document; only the open tail is
replaced on each update (through a ``QTextCursor``), and updates are coalesced to at most
one per frame, so the cost of a frame does not grow with the answer.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QPalette, QResizeEvent, QTextCursor
from PySide6.QtWidgets import QSizePolicy, QTextBrowser, QWidget

from elite_panel.chat.markdown_render import (
    DARK_CODE,
    LIGHT_CODE,
    CodeTheme,
    IncrementalMarkdown,
    finished,
)

FRAME_MS = 33  # at most ~30 renders a second, however fast tokens arrive


class MarkdownView(QTextBrowser):
    """A message body that renders a growing Markdown answer cheaply.

    Signals:
    codeCopied(int): the Copy link of a code block was used (its index).
    """

    codeCopied = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(200)
        self.anchorClicked.connect(self._on_anchor)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self.renderer = IncrementalMarkdown(self._code_theme())
        self.markdown = ""  # the message's text as given (what Copy copies)
        self._pending: str | None = None
        self._tail_start = 0
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self._on_frame)

    def _code_theme(self) -> CodeTheme:
        """Code blocks as light or dark as the window around them."""
        base = self.palette().color(QPalette.ColorRole.Base)
        return DARK_CODE if base.lightness() < 128 else LIGHT_CODE

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "renderer"):
            theme = self._code_theme()
            if theme != self.renderer.theme and self._pending is None:
                self.set_markdown_text(self.markdown)  # drawn again in the new colours
        super().changeEvent(event)

    def set_markdown_text(self, text: str) -> None:
        """Show a finished message at once."""
        self.markdown = text
        self.renderer = IncrementalMarkdown(self._code_theme())
        self.setHtml(self.renderer.update(finished(text)).html())
        self._tail_start = self.document().characterCount() - 1

    def stream_text(self, text: str) -> None:
        """The answer so far: rendered now when no frame has been drawn lately (the first
        token shows at once), else at the end of the frame (updates in between coalesce)."""
        self.markdown = text
        self._pending = text
        if not self._frame.isActive():
            self.flush()
            self._frame.start()

    def _on_frame(self) -> None:
        """A frame ended: draw what came during it, and keep pacing while text comes."""
        if self._pending is not None:
            self.flush()
            self._frame.start()

    def flush(self) -> None:
        """Render the pending text now (also called when the answer ends)."""
        if self._pending is None:
            return
        text, self._pending = self._pending, None
        update = self.renderer.update(text)
        cursor = QTextCursor(self.document())
        cursor.setPosition(min(self._tail_start, self.document().characterCount() - 1))
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        for block in update.closed:
            cursor.insertHtml(block)
            cursor.insertBlock()
        self._tail_start = cursor.position()
        if update.tail:
            cursor.insertHtml(update.tail)

    def finish(self) -> None:
        """The answer is complete: render what is pending, its last line ended (a closing
        fence with nothing after it closes its block)."""
        self._pending = finished(self.markdown)
        self.flush()

    def code(self, index: int) -> str:
        return self.renderer.code_blocks[index].code

    def sizeHint(self) -> QSize:
        return QSize(400, int(self.document().size().height()) + 4)

    def _fit_height(self) -> None:
        self.setFixedHeight(int(self.document().size().height()) + 4)

    def _on_anchor(self, url: QUrl) -> None:
        """Only the renderer's own Copy links act; a link in the model's text does nothing."""
        index = self.renderer.code_index(url.toString())
        if index is not None:
            QGuiApplication.clipboard().setText(self.code(index))
            self.codeCopied.emit(index)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Only a new width needs a new layout; growing taller (every update) must not
        # relayout the whole document (measured: 2 ms against 225 ms a frame at 20k tokens).
        width = self.viewport().width()
        if width != self.document().textWidth():
            self.document().setTextWidth(width)
        super().resizeEvent(event)
