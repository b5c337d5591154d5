"""The Secrets page: which secrets are set and where from, and set, reveal, copy, delete.

A value is shown only on demand and hidden again after :attr:`SecretsPage.reveal_ms`; a
copied value is cleared from the clipboard after the same time if it is still there.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.secrets_adapter import SecretsAdapter
from elite_panel.core.secret_store import SecretEntry
from elite_panel.ui import theme
from elite_panel.ui.widgets import dialogs
from elite_panel.ui.widgets.actions import add_buttons, fill, record_table

COLUMNS = ("Name", "Status", "Value", "Given to", "Description")
VALUE_COLUMN = 2
HIDDEN = "••••"


def masked(entry: SecretEntry) -> str:
    if not entry.is_set:
        return ""
    return f"{HIDDEN}{entry.last4}" if entry.last4 else HIDDEN


class SetSecretDialog(QDialog):
    """Name (a known one or a new custom name) and a value typed hidden."""

    def __init__(self, names: list[str], current: str | None, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set a secret")
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.addItems(names)
        if current:
            self.name.setCurrentText(current)
        self.value = QLineEdit()
        self.value.setEchoMode(QLineEdit.EchoMode.Password)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Value", self.value)
        form.addRow(QLabel("Stored in the OS keyring only. Services get it at their next start."))
        form.addRow(buttons)


class SecretsPage(QWidget):
    """The Secrets page: the keyring's secrets, masked, and their services."""

    title = "Secrets"
    reveal_ms = 30_000

    def __init__(self, secrets: SecretsAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.secrets = secrets
        self.confirm = dialogs.confirm
        self.entries: list[SecretEntry] = []
        self.problem = QLabel()
        self.problem.setObjectName("keyringProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(theme.error_style())
        self.problem.hide()
        self.table = record_table(COLUMNS, stretch=4)
        self.table.setAccessibleName("Secrets")
        self.message = QLabel()
        self.message.setObjectName("secretsMessage")
        row = QHBoxLayout()
        self.buttons = add_buttons(
            row,
            (
                ("Set…", "Store a value in the keyring (a known name or a new one)", self._set),
                ("Reveal", "Show the value for 30 seconds", self._reveal),
                ("Copy", "Copy the value; the clipboard is cleared after 30 seconds", self._copy),
                ("Delete…", "Remove it from the keyring (asks first)", self._delete),
                ("Refresh", "Read the keyring and the environment again", secrets.refresh),
            ),
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.problem)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        secrets.listed.connect(self._on_listed)
        secrets.revealed.connect(self._on_revealed)
        secrets.failed.connect(self._say)
        self._shown = False
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.timeout.connect(self._hide_values)

    def showEvent(self, event: object) -> None:
        if not self._shown:  # the keyring is asked when the page is first shown
            self._shown = True
            self.secrets.refresh()
        super().showEvent(event)  # type: ignore[arg-type]

    def selected(self) -> str | None:
        row = self.table.currentRow()
        return self.entries[row].name if 0 <= row < len(self.entries) else None

    def _on_listed(self, entries: list[SecretEntry], problem: str) -> None:
        keep = self.selected()
        self.entries = entries
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        self.buttons["Set"].setEnabled(not problem)
        self.buttons["Delete"].setEnabled(not problem)
        fill(
            self.table,
            [
                (
                    e.name,
                    f"set ({e.source})" if e.is_set else "not set",
                    masked(e),
                    ", ".join(e.services),
                    e.description,
                )
                for e in entries
            ],
        )
        for row, e in enumerate(entries):
            if e.name == keep:
                self.table.selectRow(row)

    def _set(self) -> None:
        dialog = SetSecretDialog([e.name for e in self.entries], self.selected(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.set_secret(dialog.name.currentText().strip(), dialog.value.text())

    def set_secret(self, name: str, value: str) -> None:
        self.secrets.set_secret(name, value)
        self._say(f"{name} stored; services get it at their next start.")

    def _reveal(self) -> None:
        if name := self.selected():
            self.secrets.reveal(name, "show")

    def _copy(self) -> None:
        if name := self.selected():
            self.secrets.reveal(name, "copy")

    def _delete(self) -> None:
        name = self.selected()
        if name and self.confirm(self, "Delete secret", f"Remove {name} from the keyring?"):
            self.secrets.delete(name)
            self._say(f"{name} deleted.")

    def _on_revealed(self, name: str, value: str, purpose: str) -> None:
        if purpose == "copy":
            clipboard = QGuiApplication.clipboard()
            clipboard.setText(value)

            def forget() -> None:
                if clipboard.text() == value:
                    clipboard.clear()

            QTimer.singleShot(self.reveal_ms, forget)
            self._say(f"{name} copied; the clipboard is cleared in {self.reveal_ms // 1000} s.")
            return
        for row, entry in enumerate(self.entries):
            if entry.name == name:
                self.table.setItem(row, VALUE_COLUMN, QTableWidgetItem(value))
        self._hide_timer.start(self.reveal_ms)

    def _hide_values(self) -> None:
        for row, entry in enumerate(self.entries):
            self.table.setItem(row, VALUE_COLUMN, QTableWidgetItem(masked(entry)))

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft)
