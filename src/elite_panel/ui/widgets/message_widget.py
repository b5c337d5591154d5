"""One message of a conversation: who said it, the rendered text, figures of answers, and
the project code an answer was given, each excerpt a link that opens it in the editor.

Its actions (Copy; Regenerate on the last answer, Edit on the last prompt) show while the
pointer is over the message, in room kept for them, so nothing moves when they appear.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QEnterEvent, QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from elite_panel.ui.widgets.actions import tool_button
from elite_panel.ui.widgets.markdown_view import MarkdownView

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


def answer_figures(message: Mapping[str, Any]) -> str:
    """``model · first token 120 ms · 85.2 tok/s · 240 tokens`` from what is known."""
    parts = [str(message["model"])] if message.get("model") else []
    if message.get("ttft_ms") is not None:
        parts.append(f"first token {message['ttft_ms']:.0f} ms")
    if message.get("tokens_per_second") is not None:
        parts.append(f"{message['tokens_per_second']:.1f} tok/s")
    if message.get("completion_tokens") is not None:
        parts.append(f"{message['completion_tokens']} tokens")
    if message.get("status") not in (None, "complete"):
        parts.append(str(message.get("error") or message["status"]))
    return " · ".join(parts)


def citation_link(project: str, path: str, line: int) -> str:
    """The link of a cited excerpt (``cite:PROJECT/PATH#LINE``)."""
    return f"cite:{quote(project, safe='')}/{quote(path)}#{line}"


def parse_citation(link: str) -> tuple[str, str, int] | None:
    """A citation link's project, path and line (None: not one)."""
    parts = urlsplit(link)
    project, _, path = parts.path.partition("/")
    if parts.scheme != "cite" or not path or not parts.fragment.isdigit():
        return None
    return unquote(project), unquote(path), int(parts.fragment)


class MessageWidget(QFrame):
    """One message of the chat: header, body, its figures and sources.

    Signals:
        citationClicked(str, str, int): a source clicked: its project, path and line.
    """

    citationClicked = Signal(str, str, int)

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.setObjectName(f"message-{role}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        if role == "user":  # set apart by the palette's colours (light or dark theme)
            self.setAutoFillBackground(True)
            self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.title = QLabel(f"<b>{ROLE_TITLES.get(role, role)}</b>")
        self.copy_button = tool_button("copy", "Copy", "Copy the whole message as Markdown")
        self.copy_button.clicked.connect(self.copy)
        self.regenerate_button = tool_button(
            "restart", "Regenerate", "Answer the last prompt again (Ctrl+R)"
        )
        self.edit_button = tool_button(
            "edit", "Edit", "Take the prompt back into the box to change it (Ctrl+E)"
        )
        self.actions_bar = QWidget()
        policy = self.actions_bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the header keeps its height either way
        self.actions_bar.setSizePolicy(policy)
        bar = QHBoxLayout(self.actions_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(0)
        for button in (self.edit_button, self.regenerate_button, self.copy_button):
            bar.addWidget(button)
        self.offer(regenerate=False, edit=False)
        self.actions_bar.hide()
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.actions_bar)
        self.body = MarkdownView()
        self.figures = QLabel()
        self.figures.setObjectName("figures")
        self.figures.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.figures.setWordWrap(True)
        self.figures.hide()
        self.sources = QLabel()
        self.sources.setObjectName("sources")
        self.sources.setWordWrap(True)
        self.sources.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.sources.linkActivated.connect(self._on_link)
        self.sources.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.body)
        layout.addWidget(self.sources)
        layout.addWidget(self.figures)

    def offer(self, regenerate: bool, edit: bool) -> None:
        """Which of Regenerate and Edit this message offers (the last answer, the last
        prompt)."""
        self.regenerate_button.setVisible(regenerate)
        self.edit_button.setVisible(edit)

    def enterEvent(self, event: QEnterEvent) -> None:
        self.actions_bar.show()
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self.actions_bar.hide()
        super().leaveEvent(event)

    def set_text(self, markdown: str) -> None:
        self.body.set_markdown_text(markdown)

    def show_figures(self, text: str) -> None:
        self.figures.setText(text)
        self.figures.setVisible(bool(text))

    def show_sources(self, cited: Sequence[tuple[str, str, int, int]], left_out: int) -> None:
        """The excerpts the answer was given: (project, path, first line, last line)
        each, and how many more did not fit the window."""
        links = ", ".join(
            f'<a href="{citation_link(project, path, start)}">{html.escape(path)}:{start}-{end}</a>'
            for project, path, start, end in cited
        )
        more = f" ({left_out} more did not fit the window)" if left_out else ""
        self.sources.setText(f"Sources: {links}{more}" if cited else "")
        self.sources.setVisible(bool(cited))

    def _on_link(self, link: str) -> None:
        cited = parse_citation(link)
        if cited is not None:
            self.citationClicked.emit(*cited)

    def text(self) -> str:
        return self.body.markdown

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
