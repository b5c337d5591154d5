"""The Backups page: Back up now (with progress), the list of archives (time, size,
contents, verified or not), Verify, Restore (a verified dry run, then a confirmation),
Delete, Open folder, and the schedule and retention settings of the active profile."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.backup_adapter import BackupAdapter
from elite_panel.adapters.remote_adapter import RemoteAdapter
from elite_panel.ui import theme
from elite_panel.ui.icons import icon
from elite_panel.ui.widgets import dialogs
from elite_panel.ui.widgets.actions import add_buttons, fill, record_table
from elite_panel.ui.widgets.empty_state import EmptyState

if TYPE_CHECKING:
    from elite_panel.client.server_state import RemoteState

COLUMNS = ("Time", "Size", "Contents", "Verified", "Reason")


def contents(summary: dict[str, Any]) -> str:
    if summary.get("conversations") is None:
        return "unknown until verified"
    profiles = len(summary.get("profiles") or [])
    logs = ", logs" if summary.get("include_logs") else ""
    return f"{summary['conversations']} conversations, {profiles} profile(s){logs}"


def _cells(info: Any) -> tuple[str, ...]:
    summary = info.summary
    if summary.get("error"):
        verified = "DAMAGED"
    elif summary.get("verified"):
        verified = "verified " + str(summary["verified"])[:16].replace("T", " ")
    else:
        verified = "not verified"
    return (
        info.created.strftime("%Y-%m-%d %H:%M:%S"),
        f"{info.size / 1e6:.1f} MB",
        contents(summary),
        verified,
        str(summary.get("reason", "")),
    )


class BackupsPage(QWidget):
    """The Backups page: back up now, list, verify, restore, prune, schedule."""

    title = "Backups"

    def __init__(
        self, backups: BackupAdapter, remote: RemoteAdapter, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.backups = backups
        self.confirm = dialogs.confirm
        self.infos: list[Any] = []
        self.folder: Path | None = None

        self.create_button = QPushButton(icon("backups"), "Back up now")
        self.create_button.setToolTip("A verified archive of conversations and profiles (Ctrl+B)")
        self.create_button.clicked.connect(self.back_up_now)
        self.include_logs = QCheckBox("Include logs")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.open_button = QPushButton("Open folder")
        self.open_button.clicked.connect(self._open_folder)
        top = QHBoxLayout()
        for widget in (self.create_button, self.include_logs, self.progress):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.open_button)

        self.table = record_table(COLUMNS, stretch=2)
        self.table.setAccessibleName("Backups")
        self.empty = EmptyState(
            "No backups yet",
            "A backup holds your conversations, profiles and the names of your secrets, "
            "verified as it is written.",
            ("Back up now", self.back_up_now),
        )
        self.empty.hide()
        row = QHBoxLayout()
        self.buttons = add_buttons(
            row,
            (
                ("Verify", "Check every checksum of the selected archive", self._verify),
                ("Restore…", "Verify, show what changes, then restore (asks first)", self._restore),
                ("Delete…", "Delete the selected archive (asks first)", self._delete),
                ("Prune now", "Apply the retention policy below", backups.prune),
            ),
        )
        self.message = QLabel()
        self.message.setObjectName("backupsMessage")
        self.message.setWordWrap(True)

        self.schedule = QComboBox()
        self.schedule.addItems(["off", "daily", "interval"])
        self.daily_at = QLineEdit()
        self.daily_at.setInputMask("99:99")
        self.every_hours = QDoubleSpinBox()
        self.every_hours.setRange(0.1, 168)
        self.keep_last = QSpinBox()
        self.keep_last.setRange(0, 10_000)
        self.keep_daily = QSpinBox()
        self.keep_daily.setRange(0, 10_000)
        self.offsite = QLineEdit()
        self.offsite.setPlaceholderText("s3://BUCKET/PREFIX (empty: this machine only)")
        self.offsite.setToolTip(
            "Each backup is also uploaded to this bucket and read back; the retention "
            "applies there too. Keys: AWS_* variables or ~/.aws/credentials"
        )
        save = QPushButton("Save schedule and retention")
        save.clicked.connect(self.save_settings)
        box = QGroupBox("Schedule (run by the supervisor while the stack is up) and retention")
        form = QFormLayout(box)
        form.addRow("Schedule", self.schedule)
        form.addRow("Daily at", self.daily_at)
        form.addRow("Every (hours)", self.every_hours)
        form.addRow("Keep the newest", self.keep_last)
        form.addRow("And one a day for (days)", self.keep_daily)
        form.addRow("Off-site copy", self.offsite)
        form.addRow(save)

        self.remote_note = QLabel()
        self.remote_note.setObjectName("backupsRemoteNote")
        self.remote_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.remote_note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(box)
        QShortcut(QKeySequence("Ctrl+B"), self, self.back_up_now)

        backups.listed.connect(self._on_listed)
        backups.progress.connect(self._on_progress)
        backups.finished.connect(lambda text: self._done(text, error=False))
        backups.failed.connect(lambda text: self._done(text, error=True))
        backups.planned.connect(self._on_planned)
        backups.settingsLoaded.connect(self._on_settings_loaded)
        remote.stateChanged.connect(self._on_remote_state)
        self._on_remote_state(remote.state)
        self.load_settings()
        backups.refresh()

    def _on_remote_state(self, state: RemoteState | None) -> None:
        """A remote profile: these backups hold no conversations, and the page says so."""
        self.remote_note.setVisible(state is not None)
        self.remote_note.setText(
            f"This profile uses the team server {state.url if state else ''}: a backup "
            "here holds "
            "your profiles and the names of your secrets (the schedule runs only while a "
            "local stack is up). The server's conversations are backed up where it runs, "
            "with elite-assistant-server backup create or pg_dump."
        )

    # -- actions ------------------------------------------------------------------------

    def back_up_now(self) -> None:
        self._busy("Backing up…")
        self.backups.create(self.include_logs.isChecked())

    def selected(self) -> Path | None:
        row = self.table.currentRow()
        return self.infos[row].path if 0 <= row < len(self.infos) else None

    def _verify(self) -> None:
        if path := self.selected():
            self._busy(f"Verifying {path.name}…")
            self.backups.verify(path)

    def _restore(self) -> None:
        if path := self.selected():
            self._busy(f"Verifying {path.name} before restoring it…")
            self.backups.plan_restore(path)

    def _on_planned(self, plan: Any) -> None:
        self.progress.hide()
        if self.confirm(self, "Restore", plan.summary() + "\n\nRestore now?"):
            self._busy("Restoring…")
            self.backups.apply_restore(plan)
        else:
            self.backups.discard(plan)
            self._say("Nothing was changed.")

    def _delete(self) -> None:
        path = self.selected()
        if path and self.confirm(self, "Delete backup", f"Delete {path.name}?"):
            self.backups.delete(path)

    def _open_folder(self) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))

    # -- settings -----------------------------------------------------------------------

    def load_settings(self) -> None:
        self.backups.load_settings()

    def _on_settings_loaded(self, settings: dict[str, Any]) -> None:
        self.schedule.setCurrentText(settings["schedule"])
        self.daily_at.setText(settings["daily_at"])
        self.every_hours.setValue(settings["every_hours"])
        self.keep_last.setValue(settings["keep_last"])
        self.keep_daily.setValue(settings["keep_daily"])
        self.offsite.setText(settings["offsite"])
        self.folder = settings["folder"]

    def save_settings(self) -> None:
        self.backups.save_settings(
            {
                "schedule": self.schedule.currentText(),
                "daily_at": self.daily_at.text(),
                "every_hours": self.every_hours.value(),
                "keep_last": self.keep_last.value(),
                "keep_daily": self.keep_daily.value(),
                "offsite": self.offsite.text().strip(),
            }
        )

    # -- display ------------------------------------------------------------------------

    def _on_listed(self, infos: list[Any]) -> None:
        self.infos = infos
        fill(self.table, [_cells(info) for info in infos])
        self.table.setVisible(bool(infos))
        self.empty.setVisible(not infos)

    def _on_progress(self, what: str, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setFormat(f"{what} %p%")
        self.progress.setValue(int(1000 * done / total) if total else 1000)

    def _busy(self, text: str) -> None:
        self.create_button.setEnabled(False)
        self._say(text)

    def _done(self, text: str, error: bool) -> None:
        self.create_button.setEnabled(True)
        self.progress.hide()
        self._say(text, error)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(theme.error_style(error))
        self.message.setText(text)
