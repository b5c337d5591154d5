"""The About dialog: the version, where this user's things are, the licence."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from elite_panel import __version__


class AboutDialog(QDialog):
    """Version, the folders of configuration, data and logs (selectable), the licence."""

    def __init__(self, folders: dict[str, Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Elite Coding Assistant")
        rows = "".join(
            f"<tr><td>{html.escape(name.title())}&nbsp;</td><td><tt>{html.escape(str(path))}"
            "</tt></td></tr>"
            for name, path in folders.items()
        )
        self.text = QLabel(
            f"<h3>Elite Coding Assistant {html.escape(__version__)}</h3>"
            "<p>A control panel for a local AI coding assistant.</p>"
            f"<table>{rows}</table>"
            "<p>Free software under the MIT licence. Your conversations, profiles and logs "
            "stay on this machine, in the folders above.</p>"
        )
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
