"""The profile editor's form, generated from the profile schema: one group per section,
each key with its widget, description, default, origin and inline validation."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from elite_panel.core.profile_store import (
    FieldDoc,
    field_error,
    field_value,
    schema_fields,
    value_at,
)
from elite_panel.ui import theme

SECTION_TITLES = {
    "stack": "Stack",
    "remote": "Remote server",
    "runner": "Runner",
    "assistant": "Assistant server",
    "models": "Models",
    "dashboard": "Dashboard & alerts",
    "backups": "Backups",
    "logging": "Logging",
    "window": "Window",
    "projects": "Projects",
}


class _Field:
    def __init__(self, doc: FieldDoc, on_change: Any) -> None:
        self.doc = doc
        self.widget: QWidget
        if doc.kind == "bool":
            box = QCheckBox()
            box.toggled.connect(on_change)
            self.widget = box
        elif doc.kind == "choice":
            combo = QComboBox()
            combo.addItems(list(doc.choices))
            combo.currentTextChanged.connect(on_change)
            self.widget = combo
        else:
            line = QLineEdit()
            line.setPlaceholderText("" if doc.default in (None, "") else str(doc.default))
            line.textChanged.connect(on_change)
            line.setReadOnly(doc.kind == "table")
            self.widget = line
        self.widget.setObjectName(f"field:{doc.path}")
        self.widget.setToolTip(doc.description)
        self.note = QLabel()
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # follows the theme
        small = self.note.font()
        small.setPointSizeF(small.pointSizeF() * 0.85)
        self.note.setFont(small)
        self.note.setWordWrap(True)  # a long description wraps, never widens the form
        self.error = QLabel()
        self.error.setObjectName(f"error:{doc.path}")
        self.error.setStyleSheet(theme.error_style() + "font-size:11px;")
        self.error.hide()
        self.loaded: Any = None

    def set(self, value: Any, source: str) -> None:
        self.loaded = value
        if isinstance(self.widget, QCheckBox):
            self.widget.setChecked(bool(value))
        elif isinstance(self.widget, QComboBox):
            self.widget.setCurrentText(str(value))
        elif isinstance(self.widget, QLineEdit):
            shown = json.dumps(value) if self.doc.kind == "table" else str(value)
            self.widget.setText("" if value is None else shown)
        default = "none" if self.doc.default in (None, "") else repr(self.doc.default)
        self.note.setText(f"{self.doc.description} · default {default} · from {source}")
        # An environment variable wins over the file: editing the file would change nothing.
        self.widget.setEnabled(not source.startswith("$"))
        self.error.hide()

    def value(self) -> Any:
        if isinstance(self.widget, QCheckBox):
            return self.widget.isChecked()
        if isinstance(self.widget, QComboBox):
            return self.widget.currentText()
        assert isinstance(self.widget, QLineEdit)
        if self.doc.kind == "table":
            return self.loaded  # a sub-table is edited in the TOML view
        return field_value(self.doc, self.widget.text())

    def validate(self) -> str | None:
        problem = field_error(self.doc, self.value())
        self.error.setText(problem or "")
        self.error.setVisible(problem is not None)
        return problem


class ProfileForm(QWidget):
    """A form generated from the profile schema: one editor per key, grouped by section.

    Signals:
    edited(): a value changed (validated inline).
    """

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields: dict[str, _Field] = {}
        layout = QVBoxLayout(self)
        groups: dict[str, QFormLayout] = {}
        order = list(SECTION_TITLES)

        def top(doc: FieldDoc) -> str:
            return doc.section.split(".")[0]

        docs = sorted(
            schema_fields(),  # stable: keys keep the schema's order within a section
            key=lambda d: order.index(top(d)) if top(d) in order else len(order),
        )
        for doc in docs:
            form = groups.get(top(doc))
            if form is None:
                box = QGroupBox(SECTION_TITLES.get(top(doc), top(doc).title()))
                form = QFormLayout(box)
                groups[top(doc)] = form
                layout.addWidget(box)
            field = _Field(doc, lambda *_a, p=doc.path: self._changed(p))
            self.fields[doc.path] = field
            form.addRow(
                doc.path.partition(".")[2], field.widget
            )  # runner.docker.image: docker.image
            form.addRow("", field.note)
            form.addRow("", field.error)
        layout.addStretch(1)
        self._loading = False

    def load(self, values: dict[str, dict[str, Any]], sources: dict[str, str]) -> None:
        self._loading = True
        try:
            for path, field in self.fields.items():
                field.set(value_at(values, path.split(".")), sources.get(path, "default"))
        finally:
            self._loading = False

    def edits(self) -> dict[str, Any]:
        """The keys whose value differs from the loaded one."""
        return {p: f.value() for p, f in self.fields.items() if f.value() != f.loaded}

    def problems(self) -> dict[str, str]:
        out = {}
        for path, field in self.fields.items():
            problem = field.validate()
            if problem:
                out[path] = problem
        return out

    def _changed(self, path: str) -> None:
        if self._loading:
            return
        self.fields[path].validate()
        self.edited.emit()
