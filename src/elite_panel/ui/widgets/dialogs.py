"""Small modal questions, as plain functions the pages hold as attributes (tests replace
them: a modal dialog would block an offscreen test)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget


def confirm(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(
        parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    )
    return answer == QMessageBox.StandardButton.Yes


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, text=text)
    return value.strip() or None if ok else None


def choose_file(parent: QWidget, title: str, save: bool, pattern: str) -> Path | None:
    if save:
        path, _ = QFileDialog.getSaveFileName(parent, title, "", pattern)
    else:
        path, _ = QFileDialog.getOpenFileName(parent, title, "", pattern)
    return Path(path) if path else None
