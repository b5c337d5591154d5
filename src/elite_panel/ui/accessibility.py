"""Names for screen readers: every control of a page says what it is.

Controls get their name where it is already written: the label of their form row, their
own text, their tooltip's first sentence or their placeholder; the few that have none of
these are named where they are built. The tooltip also becomes the description.
"""

from __future__ import annotations

import re

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)

INTERACTIVE = (
    QAbstractButton,
    QLineEdit,
    QComboBox,
    QAbstractSpinBox,
    QPlainTextEdit,
    QTextEdit,
    QAbstractItemView,
    QTabBar,
)


def is_part_of_a_control(widget: QWidget) -> bool:
    """Qt's own pieces of a control (a spin box's editor, a view's header, a combo box's
    list, a line edit's clear button): screen readers reach them through the control."""
    if widget.objectName().startswith("qt_") or isinstance(widget, QHeaderView):
        return True
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QComboBox | QAbstractSpinBox | QLineEdit):
            return True
        parent = parent.parentWidget()
    return False


def controls(root: QWidget) -> list[QWidget]:
    """The interactive widgets under ``root`` that need a name of their own."""
    return [
        w
        for w in root.findChildren(QWidget)
        if isinstance(w, INTERACTIVE) and not is_part_of_a_control(w)
    ]


def name_controls(root: QWidget) -> None:
    """Name every control under ``root`` that has no accessible name yet (idempotent)."""
    labels = {
        id(label.buddy()): label.text() for label in root.findChildren(QLabel) if label.buddy()
    }
    for widget in controls(root):
        if widget.toolTip() and not widget.accessibleDescription():
            widget.setAccessibleDescription(widget.toolTip())
        if widget.accessibleName():
            continue
        name = labels.get(id(widget), "")
        if not name and isinstance(widget, QAbstractButton):
            name = widget.text()
        if not name and widget.toolTip():
            name = re.split(r"[.(;:]", widget.toolTip(), maxsplit=1)[0]
        if not name and isinstance(widget, QLineEdit | QPlainTextEdit | QTextEdit):
            name = re.split(r"[.(;:]", widget.placeholderText(), maxsplit=1)[0]
        name = re.sub(r"<[^>]+>|&(?!&)|…", "", name).strip()
        if name:
            widget.setAccessibleName(name)
