"""The Chat page's composer: what to ask, with which model and system prompt, and what it
takes of the model's window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from elite_panel.chat import context_text
from elite_panel.chat.attachments import MAX_ATTACHMENT_BYTES
from elite_panel.chat.presets import PRESETS
from elite_panel.ui import theme
from elite_panel.ui.icons import icon
from elite_panel.ui.widgets.actions import tool_button
from elite_panel.ui.widgets.prompt_box import PromptBox

COUNT_DEBOUNCE_MS = 250  # the draft is counted at most four times a second while typed


class Composer(QWidget):
    """One compact row (model, system prompt, Attach, ⋯, Stop, Send), the prompt box, and
    under it the context meter and a line when the draft will not fit or will leave
    earlier messages out.

    Signals:
        sendRequested(str): the prompt to send (Enter or Send).
        stopRequested(): Stop (or Esc, on the page).
        attachRequested(list): files to add to the prompt (Attach…, or dropped on it).
        regenerateRequested(), editRequested(), copyRequested(): the ⋯ menu's actions.
        countRequested(str, object, object): the draft to count (its text, the model or
            ``None``, the system prompt or ``None``), once typing pauses.
    """

    sendRequested = Signal(str)
    stopRequested = Signal()
    attachRequested = Signal(list)
    regenerateRequested = Signal()
    editRequested = Signal()
    copyRequested = Signal()
    countRequested = Signal(str, object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._presets = dict(PRESETS)
        self.model = QComboBox()
        self.model.setMinimumWidth(140)
        self.model.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model.setMinimumContentsLength(14)
        self.model.setToolTip("Model for this conversation (remembered per conversation)")
        self.model.setAccessibleName("Model")
        self.prompt = PromptBox()
        self.prompt.submitted.connect(self.sendRequested.emit)
        self.prompt.filesDropped.connect(self.attachRequested.emit)
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
        self.regenerate_action.triggered.connect(self.regenerateRequested.emit)
        self.edit_last_action = menu.addAction(icon("edit"), "Edit the last prompt")
        self.edit_last_action.setShortcut(QKeySequence("Ctrl+E"))
        self.edit_last_action.triggered.connect(self.editRequested.emit)
        self.copy_last_action = menu.addAction(icon("copy"), "Copy the last answer")
        self.copy_last_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_last_action.triggered.connect(self.copyRequested.emit)
        menu.addSeparator()
        menu.addAction("Edit the system prompt…", self._on_edit_preset)
        for action in menu.actions():
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.more_button.setMenu(menu)
        self.menu_actions = menu.actions()  # the page adds them: their shortcuts work there
        self.send_button = QPushButton(icon("send"), "Send")
        self.send_button.setToolTip("Send the prompt (Enter; Shift+Enter for a new line)")
        self.send_button.clicked.connect(lambda: self.sendRequested.emit(self.text()))
        self.stop_button = QPushButton(icon("stop"), "Stop")
        self.stop_button.setToolTip("Stop the answer (Esc); the partial answer is kept")
        self.stop_button.clicked.connect(self.stopRequested.emit)
        self.stop_button.setEnabled(False)
        self.context_meter = QLabel()
        self.context_meter.setObjectName("contextMeter")
        self.context_meter.setAccessibleName("Context window used")
        self.context_warning = QLabel()
        self.context_warning.setObjectName("contextWarning")
        self.context_warning.setWordWrap(True)
        self.context_warning.hide()
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DEBOUNCE_MS)
        self._count_timer.timeout.connect(self._request_count)
        self.prompt.textChanged.connect(self.count_soon)
        self.model.currentTextChanged.connect(lambda _t: self.count_soon())
        self.preset.currentTextChanged.connect(lambda _t: self.count_soon())

        controls = QHBoxLayout()  # what to use, the rarer actions behind ⋯, Stop and Send
        controls.addWidget(self.model, 2)
        controls.addWidget(self.preset, 1)
        controls.addWidget(self.attach_button)
        controls.addWidget(self.more_button)
        controls.addStretch(0)
        controls.addWidget(self.stop_button)
        controls.addWidget(self.send_button)
        context_row = QHBoxLayout()  # under the box: what it takes, and what will not fit
        context_row.addWidget(self.context_warning, 1)
        context_row.addWidget(
            self.context_meter, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.prompt)
        layout.addLayout(context_row)
        # Tab reads the controls row, then the prompt, then what sends or stops it.
        for first, second in (
            (self.more_button, self.prompt),
            (self.prompt, self.stop_button),
            (self.stop_button, self.send_button),
        ):
            QWidget.setTabOrder(first, second)

    def text(self) -> str:
        return self.prompt.toPlainText()

    def model_name(self) -> str | None:
        return self.model.currentText() or None

    def system_prompt(self) -> str | None:
        """The chosen preset's system prompt (``None``: the server's default)."""
        return self._presets.get(self.preset.currentText())

    def set_models(self, models: list[str]) -> None:
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(models)
        if current in models:
            self.model.setCurrentText(current)

    def select_model(self, name: str, add: bool = False) -> None:
        """Choose model ``name`` if listed (``add``: list it first, as one just pulled)."""
        if self.model.findText(name) < 0 and add:
            self.model.addItem(name)
        index = self.model.findText(name)
        if index >= 0:
            self.model.setCurrentIndex(index)

    def set_streaming(self, streaming: bool) -> None:
        self.stop_button.setEnabled(streaming)

    def set_text(self, text: str) -> None:
        self.prompt.setPlainText(text)
        self.prompt.setFocus()

    def append_block(self, block: str) -> None:
        """Add an attached file's block after what is typed."""
        current = self.text().rstrip()
        self.prompt.setPlainText(f"{current}\n\n{block}" if current else block)

    def count_soon(self) -> None:
        """Count the draft once typing pauses."""
        self._count_timer.start()

    def show_count(self, counted: dict[str, Any]) -> None:
        """The server's count of the draft: the meter, and the warning line."""
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

    def set_meter_visible(self, visible: bool) -> None:
        self.context_meter.setVisible(visible)

    def _request_count(self) -> None:
        self.countRequested.emit(self.text(), self.model_name(), self.system_prompt())

    def _on_attach(self) -> None:
        names, _filter = QFileDialog.getOpenFileNames(self, "Attach text files")
        self.attachRequested.emit([Path(name) for name in names])

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
