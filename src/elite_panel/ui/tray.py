"""The tray icon: the stack's state at a glance, Start / Stop / Show / Quit, and what it
notifies."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.ui.main_window import remote_state, remote_summary, stack_summary
from elite_panel.ui.theme import STATE_COLORS

if TYPE_CHECKING:
    from elite_panel.adapters.backup_adapter import BackupAdapter
    from elite_panel.adapters.monitor_adapter import MonitorAdapter
    from elite_panel.adapters.remote_adapter import RemoteAdapter
    from elite_panel.adapters.stack_adapter import StackAdapter
    from elite_panel.client.server_state import RemoteState


def state_icon(color: str) -> QIcon:
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(color))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(4, 4, 56, 56)
    painter.end()
    return QIcon(pixmap)


WORST_FIRST = (
    ServiceState.FAILED,
    ServiceState.CRASHED,
    ServiceState.BACKOFF,
    ServiceState.UNHEALTHY,
    ServiceState.STARTING,
    ServiceState.STOPPING,
)


def overall_state(statuses: list[ServiceStatus]) -> ServiceState:
    """The worst state of the services, for one colour."""
    states = {s.state for s in statuses}
    for worst_first in WORST_FIRST:
        if worst_first in states:
            return worst_first
    return ServiceState.READY if states == {ServiceState.READY} else ServiceState.STOPPED


class Tray(QObject):
    """The tray icon: the stack's state, its menu, and alert notifications.

    Signals: startRequested, stopRequested, showRequested, quitRequested."""

    startRequested = Signal()
    stopRequested = Signal()
    showRequested = Signal()
    quitRequested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(state_icon(STATE_COLORS[ServiceState.STOPPED]), self)
        menu = QMenu()
        for text, signal in (
            ("Start stack", self.startRequested),
            ("Stop stack", self.stopRequested),
            ("Show panel", self.showRequested),
            ("Quit", self.quitRequested),
        ):
            action = QAction(text, menu)
            action.triggered.connect(signal.emit)
            menu.addAction(action)
        self._menu = menu
        self.icon.setContextMenu(menu)
        self.icon.activated.connect(self._on_activated)
        self.icon.setToolTip("Elite Coding Assistant: stack stopped")

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def show_stack_state(self, statuses: list[ServiceStatus], connected: bool) -> None:
        state = overall_state(statuses) if connected else ServiceState.STOPPED
        self.icon.setIcon(state_icon(STATE_COLORS[state]))
        self.icon.setToolTip(f"Elite Coding Assistant: {stack_summary(statuses, connected)}")

    def show_remote_state(self, state: RemoteState) -> None:
        """A remote profile's server: its line and colour."""
        self.icon.setIcon(state_icon(STATE_COLORS[remote_state(state)[1]]))
        self.icon.setToolTip(f"Elite Coding Assistant: {remote_summary(state)}")

    def notify(self, title: str, message: str) -> None:
        """A desktop notification (an alert that just fired)."""
        self.icon.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 10_000)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.showRequested.emit()


def scheduled_backup_text(result: dict[str, Any]) -> tuple[bool, str]:
    """Whether a scheduled backup was written, and what to say of it."""
    ok = bool(result.get("ok"))
    return ok, f"written: {result.get('path')}" if ok else f"failed: {result.get('error')}"


class TrayLink(QObject):
    """The tray icon tied to the panel: its menu starts, stops, shows and quits; its colour
    follows the stack (or the team server a remote profile uses); alerts and scheduled
    backups notify."""

    def __init__(
        self,
        tray: Tray,
        stack: StackAdapter,
        remote: RemoteAdapter,
        monitor: MonitorAdapter,
        backups: BackupAdapter,
        show_window: Callable[[], None],
        quit_panel: Callable[[], None],
    ) -> None:
        super().__init__(tray)
        self.tray, self.stack, self.remote = tray, stack, remote
        tray.startRequested.connect(stack.start_stack)
        tray.stopRequested.connect(stack.stop_stack)
        tray.showRequested.connect(show_window)
        tray.quitRequested.connect(quit_panel)
        monitor.alertFired.connect(self._on_alert)
        backups.scheduledResult.connect(self._on_backup)
        stack.statusChanged.connect(self._on_status)
        stack.connectedChanged.connect(lambda _c: self._on_status(stack.statuses))
        remote.stateChanged.connect(self._on_remote_state)

    def _on_alert(self, alert: dict[str, Any]) -> None:
        self.tray.notify(f"Alert: {alert['rule']}", str(alert["message"]))

    def _on_backup(self, result: dict[str, Any]) -> None:
        ok, text = scheduled_backup_text(result)
        self.tray.notify("Backup" if ok else "Backup failed", text)

    def _on_status(self, statuses: list[ServiceStatus]) -> None:
        if self.remote.state is None:  # (else the icon is the remote server's)
            self.tray.show_stack_state(statuses, self.stack.connected)

    def _on_remote_state(self, state: RemoteState | None) -> None:
        if state is not None:
            self.tray.show_remote_state(state)
        else:
            self._on_status(self.stack.statuses)
