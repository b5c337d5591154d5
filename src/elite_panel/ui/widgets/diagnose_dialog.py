"""The Diagnose dialog (Help → Diagnose…): the doctor's checks of this machine and the
active profile, each failure with what to do, and a support bundle to save for a bug
report."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.diagnose_adapter import DiagnoseAdapter
from elite_panel.ui.widgets.actions import fill, record_table
from elite_panel.ui.widgets.dialogs import choose_file

COLUMNS = ["Status", "Check", "Found", "What to do"]
MARKS = {"ok": "✓ ok", "warn": "! warning", "fail": "✗ failed"}


class DiagnoseDialog(QDialog):
    """Runs the checks when opened (and on Run again, F5); Save support bundle… writes
    the zip the doctor's ``--bundle`` writes."""

    def __init__(self, diagnose: DiagnoseAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Diagnose")
        self.setMinimumSize(640, 360)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        diagnose.setParent(self)  # (its work ends with the dialog)
        self.diagnose = diagnose
        self.choose_file = choose_file  # (replaced by the tests: a modal would block)
        self.summary = QLabel("Checking…")
        self.summary.setObjectName("diagnoseSummary")
        self.summary.setWordWrap(True)
        self.table = record_table(COLUMNS, stretch=2)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)  # what to do: room too
        for column in (0, 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAccessibleName("Checks")
        self.table.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.again = QPushButton("Run again")
        self.again.setToolTip("Check everything again (F5)")
        self.bundle = QPushButton("Save support bundle…")
        self.bundle.setToolTip(
            "A zip for a bug report: versions, this report, the newest logs, the profile and "
            "GPU facts, with every secret removed"
        )
        buttons.addButton(self.again, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.bundle, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.again.clicked.connect(self.run)
        self.bundle.clicked.connect(self.save_bundle)
        QShortcut(QKeySequence("F5"), self, self.run)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        diagnose.diagnosed.connect(self._on_diagnosed)
        diagnose.saved.connect(
            lambda path: self._say(f"Support bundle saved: {path}. Read it before you share it.")
        )
        diagnose.failed.connect(lambda text: self._say(text))
        self.run()

    def run(self) -> None:
        self.again.setEnabled(False)
        self._say("Checking…")
        self.diagnose.run()

    def save_bundle(self) -> None:
        target = self.choose_file(self, "Save support bundle", True, "Zip archives (*.zip)")
        if target is not None:
            self._say("Writing the support bundle…")
            self.diagnose.save_bundle(target if target.suffix else target.with_suffix(".zip"))

    def _on_diagnosed(self, checks: list[Any]) -> None:
        self.again.setEnabled(True)
        fill(
            self.table,
            [[MARKS.get(c.status, c.status), c.name, c.detail, c.advice] for c in checks],
        )
        for row, check in enumerate(checks):
            item = self.table.item(row, 0)
            if item is not None:
                item.setData(Qt.ItemDataRole.AccessibleTextRole, check.status)
        self.table.resizeRowsToContents()
        failed = sum(c.status == "fail" for c in checks)
        warned = sum(c.status == "warn" for c in checks)
        if failed or warned:
            self._say(
                f"{failed} failed, {warned} with a warning, of {len(checks)} checks: "
                "see what to do beside each."
            )
        else:
            self._say(f"All {len(checks)} checks passed.")

    def _say(self, text: str) -> None:
        self.summary.setText(text)
