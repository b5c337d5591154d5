"""One service at a glance: state badge, details, and its Start / Stop / Restart buttons."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.ui import theme
from elite_panel.ui.icons import icon
from elite_panel.ui.style import badge_css, format_uptime

TITLES = {"runner": "Model runner", "assistant": "Assistant server"}


class ServiceCard(QFrame):
    """Shows a :class:`ServiceStatus`; its buttons only emit signals.

    Signals:
        startRequested(str), stopRequested(str), restartRequested(str): the service name.
    """

    startRequested = Signal(str)
    stopRequested = Signal(str)
    restartRequested = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setObjectName(f"card-{name}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._uptime_base: tuple[float, float] | None = None  # (uptime_s, received at)
        self.status = ServiceStatus(name, ServiceState.STOPPED, "")

        title = QLabel(f"<b>{TITLES.get(name, name)}</b>")
        self.badge = QLabel()
        self.badge.setObjectName("badge")
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.badge)

        self.kind = QLabel("-")
        self.pid = QLabel("-")
        self.url = QLabel("-")
        self.url.setOpenExternalLinks(False)
        self.uptime = QLabel("-")
        self.restarts = QLabel("0")
        self.last_error = QLabel("-")
        self.last_error.setWordWrap(True)
        self.action_error = QLabel()
        self.action_error.setObjectName("actionError")
        self.action_error.setWordWrap(True)
        self.action_error.setStyleSheet(theme.error_style())
        self.action_error.hide()
        form = QFormLayout()
        for label, widget in (
            ("Kind", self.kind),
            ("PID", self.pid),
            ("URL", self.url),
            ("Uptime", self.uptime),
            ("Restarts", self.restarts),
            ("Last error", self.last_error),
        ):
            form.addRow(label, widget)

        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.restart_button = QPushButton("Restart")
        self.start_button.clicked.connect(lambda: self._request(self.startRequested))
        self.stop_button.clicked.connect(lambda: self._request(self.stopRequested))
        self.restart_button.clicked.connect(lambda: self._request(self.restartRequested))
        buttons = QHBoxLayout()
        for button, name in zip(
            (self.start_button, self.stop_button, self.restart_button),
            ("start", "stop", "restart"),
            strict=True,
        ):
            button.setIcon(icon(name))
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(form)
        layout.addWidget(self.action_error)
        layout.addLayout(buttons)
        self.show_status(self.status)

    def _request(self, signal: SignalInstance) -> None:
        self.action_error.hide()
        signal.emit(self.name)

    def show_status(self, status: ServiceStatus) -> None:
        self.status = status
        self.badge.setText(status.state.value)
        self.badge.setStyleSheet(badge_css(status.state))
        self.kind.setText(status.kind or "-")
        self.pid.setText(str(status.pid) if status.pid else "-")
        self.url.setText(status.url or "-")
        self.restarts.setText(str(status.restarts))
        self.last_error.setText(status.last_error or "-")
        self._uptime_base = (
            (status.uptime_s, time.monotonic()) if status.uptime_s is not None else None
        )
        self.tick()
        active = status.state.is_active
        self.start_button.setEnabled(not active)
        self.stop_button.setEnabled(active and status.state is not ServiceState.STOPPING)
        self.restart_button.setEnabled(active)

    def tick(self) -> None:
        """Advance the uptime shown between status updates (called once a second)."""
        if self._uptime_base is None:
            self.uptime.setText("-")
            return
        base, received = self._uptime_base
        self.uptime.setText(format_uptime(base + time.monotonic() - received))

    def set_busy(self, busy: bool) -> None:
        for button in (self.start_button, self.stop_button, self.restart_button):
            button.setEnabled(not busy and button.isEnabled())
        if not busy:
            self.show_status(self.status)

    def show_action_error(self, message: str) -> None:
        self.action_error.setText(message)
        self.action_error.setToolTip(message)
        self.action_error.show()
