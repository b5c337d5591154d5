"""The Models page: installed and loaded models with their figures (which one holds VRAM,
and how much spilled to the CPU), a pull box with a bar per layer and in total, speed and
time left, Cancel; Delete (asks first), Unload, Details, Import GGUF."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.models_adapter import ModelsAdapter
from elite_panel.chat.context_text import window_text
from elite_panel.client.records import LoadedModel, Model
from elite_panel.monitor.report import gpu_placement, human_bytes, rate_and_time_left
from elite_panel.ui import theme
from elite_panel.ui.icons import icon
from elite_panel.ui.widgets import dialogs
from elite_panel.ui.widgets.actions import add_buttons, fill, record_table
from elite_panel.ui.widgets.empty_state import EmptyState

INSTALLED = (
    "Name",
    "Size",
    "Parameters",
    "Context",
    "Quantization",
    "Family",
    "Modified",
    "Chats",
)
LOADED = ("Name", "Size", "On GPU", "Context", "Until")
CHANGING = ("Unload", "Delete", "Import GGUF")  # the admin's, on a team's server


class ModelsPage(QWidget):
    """The Models page: installed and loaded models, pull, import, delete."""

    title = "Models"

    def __init__(self, models: ModelsAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.confirm = dialogs.confirm
        self.choose_file = dialogs.choose_file
        self.rows: list[Model] = []
        self.installed = record_table(INSTALLED)
        self.installed.setAccessibleName("Installed models")
        self.loaded = record_table(LOADED)
        self.loaded.setAccessibleName("Models in memory")
        self.loaded_note = QLabel()
        actions = QHBoxLayout()
        self.buttons = add_buttons(
            actions,
            (
                ("Details", "Template, parameters and license of the selected model", self._show),
                ("Unload", "Free its memory now (it loads again on the next chat)", self._unload),
                ("Delete…", "Delete the selected model (asks first)", self._delete),
                ("Import GGUF…", "Copy a GGUF file in (built-in runner)", self._import),
                ("Refresh", "Ask the runner again", models.refresh),
            ),
        )

        self._tips = [self.buttons[name].toolTip() for name in CHANGING]
        self.pull_name = QLineEdit()
        self.pull_name.setPlaceholderText("a model to pull, e.g. qwen2.5-coder:7b")
        self._pull_hint = self.pull_name.placeholderText()  # (a key's reason replaces it)
        self.pull_name.returnPressed.connect(self.pull)
        self.pull_button = QPushButton(icon("export"), "Pull")
        self.pull_button.clicked.connect(self.pull)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(models.cancel)
        self.cancel_button.setEnabled(False)
        pull_row = QHBoxLayout()
        for widget in (self.pull_name, self.pull_button, self.cancel_button):
            pull_row.addWidget(widget)
        self.total = QProgressBar()
        self.total.setRange(0, 1000)
        self.total.hide()
        self.layers_box = QVBoxLayout()
        self.layers: dict[str, QProgressBar] = {}
        self.rate = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setAccessibleName("Model details")
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(140)
        self.details.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Installed"))
        layout.addWidget(self.installed, 2)
        self.empty = EmptyState(
            "No models installed",
            "Pull a model below (Ollama: qwen2.5-coder:7b is a good coding model for 8 GB of "
            "VRAM), or import a GGUF file into the built-in runner.",
            ("Pull a model", self.pull_name.setFocus),
        )
        self.empty.hide()
        layout.addWidget(self.empty, 2)
        layout.addLayout(actions)
        layout.addWidget(QLabel("Loaded (in memory)"))
        layout.addWidget(self.loaded, 1)
        layout.addWidget(self.loaded_note)
        layout.addLayout(pull_row)
        layout.addLayout(self.layers_box)
        layout.addWidget(self.total)
        layout.addWidget(self.rate)
        layout.addWidget(self.message)
        layout.addWidget(self.details)

        models.installed.connect(self._on_installed)
        models.loaded.connect(self._on_loaded)
        models.progress.connect(self._on_progress)
        models.finished.connect(lambda text: self._end(text, error=False))
        models.failed.connect(lambda text: self._end(text, error=True))
        models.details.connect(self._on_details)
        models.accessChanged.connect(self._on_access)
        self._on_access(*models.may_change)
        self._started = 0.0
        self._shown = False

    def _on_access(self, allowed: bool, reason: str) -> None:
        """Greyed out, with the reason as their tooltip, where the key may not change the
        server's models."""
        changing = [self.buttons[name] for name in CHANGING]
        for widget in (*changing, self.pull_button, self.pull_name):
            widget.setEnabled(allowed)
        for button, tip in zip(changing, self._tips, strict=True):
            button.setToolTip(tip if allowed else reason)
        self.pull_button.setToolTip("" if allowed else reason)
        self.pull_name.setPlaceholderText(self._pull_hint if allowed else reason)

    def showEvent(self, event: Any) -> None:
        if not self._shown:
            self._shown = True
            self.models.refresh()
        super().showEvent(event)

    def selected(self) -> str | None:
        row = self.installed.currentRow()
        return self.rows[row].name if 0 <= row < len(self.rows) else None

    # -- actions ------------------------------------------------------------------------

    def pull(self) -> None:
        name = self.pull_name.text().strip()
        if name:
            self._begin(f"Pulling {name}…")
            self.models.pull(name)

    def _import(self) -> None:
        path = self.choose_file(self, "Import a GGUF file", False, "GGUF (*.gguf)")
        if path is not None:
            self._begin(f"Importing {path.name}…")
            self.models.import_file(str(path), None)

    def _delete(self) -> None:
        name = self.selected()
        if name and self.confirm(self, "Delete model", f"Delete {name}? Its files are removed."):
            self.models.delete(name)

    def _unload(self) -> None:
        row = self.loaded.currentRow()
        item = self.loaded.item(row, 0) if row >= 0 else None
        name = item.text() if item else self.selected()
        if name:
            self.models.unload(name)

    def _show(self) -> None:
        if name := self.selected():
            self.models.show(name)

    # -- display ------------------------------------------------------------------------

    def _on_installed(self, rows: list[Model]) -> None:
        self.rows = rows
        self.installed.setVisible(bool(rows))
        self.empty.setVisible(not rows)
        fill(
            self.installed,
            [
                (
                    m.label(),
                    human_bytes(m.size) if m.size else "-",
                    m.parameter_size or "-",
                    window_text(m.context_length, m.trained_context_length),
                    m.quantization or "-",
                    m.family or "-",
                    (m.modified_at or "-")[:16].replace("T", " "),
                    str(m.conversations),
                )
                for m in rows
            ],
        )

    def _on_loaded(self, rows: list[LoadedModel], problem: str) -> None:
        self.loaded_note.setText(problem)
        fill(
            self.loaded,
            [
                (
                    m.name,
                    human_bytes(m.size),
                    gpu_placement(m.gpu_share),
                    str(m.context_length or "-"),
                    (m.expires_at or "-")[:19].replace("T", " "),
                )
                for m in rows
            ],
        )

    def _on_progress(self, _name: str, event: dict[str, Any]) -> None:
        total, done = event.get("total"), event.get("completed")
        if not total or done is None:
            self.message.setText(str(event.get("status", "")))
            return
        layer = str(event.get("digest") or event.get("status") or "file")
        bar = self.layers.get(layer)
        if bar is None:
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setFormat(f"{layer[:19]} %p%")
            self.layers[layer] = bar
            self.layers_box.addWidget(bar)
        bar.setValue(int(1000 * done / total))
        bars = list(self.layers.values())
        self.total.show()
        self.total.setValue(sum(b.value() for b in bars) // len(bars))
        self.rate.setText(rate_and_time_left(done, total, time.monotonic() - self._started))

    def _on_details(self, details: dict[str, Any]) -> None:
        self.details.show()
        parts = [f"{k}: {v}" for k, v in details.items() if v and k not in ("modelfile",)]
        self.details.setPlainText("\n".join(parts))

    def _begin(self, text: str) -> None:
        self._started = time.monotonic()
        for bar in self.layers.values():
            bar.deleteLater()
        self.layers.clear()
        self.total.setValue(0)
        self.pull_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.message.setStyleSheet("")
        self.message.setText(text)

    def _end(self, text: str, error: bool) -> None:
        self.pull_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.total.hide()
        self.rate.clear()
        self.message.setStyleSheet(theme.error_style(error))
        self.message.setText(text)
