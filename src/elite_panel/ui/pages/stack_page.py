"""The Stack page: the whole stack's controls, one card per service, and their live logs;
for a remote profile, the team's server and its runners instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from elite_panel.adapters.remote_adapter import RemoteAdapter
from elite_panel.adapters.stack_adapter import StackAdapter
from elite_panel.core.services import SERVICE_NAMES, ServiceState, ServiceStatus
from elite_panel.ui import theme
from elite_panel.ui.icons import icon
from elite_panel.ui.widgets.log_view import LogView
from elite_panel.ui.widgets.remote_server_view import RemoteServerView
from elite_panel.ui.widgets.service_card import TITLES, ServiceCard

if TYPE_CHECKING:
    from elite_panel.client.server_state import RemoteState


class StackPage(QWidget):
    """The Stack page: each service's state, logs, Start, Stop and Restart.

    Args:
    stack: the adapter that talks to the supervisor (from the composition root).
    remote: the adapter that follows a remote profile's server.
    """

    title = "Stack"

    def __init__(
        self, stack: StackAdapter, remote: RemoteAdapter, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.stack = stack
        self.start_button = QPushButton("Start stack")
        self.start_button.setToolTip("Start the model runner and the assistant server (Ctrl+S)")
        self.stop_button = QPushButton("Stop stack")
        self.restart_button = QPushButton("Restart stack")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.restart_button.clicked.connect(self._on_restart_clicked)
        self.summary = QLabel()
        self.error = QLabel()
        self.error.setObjectName("stackError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(theme.error_style())
        self.error.hide()
        top = QHBoxLayout()
        for button, name in zip(
            (self.start_button, self.stop_button, self.restart_button),
            ("start", "stop", "restart"),
            strict=True,
        ):
            button.setIcon(icon(name))
            top.addWidget(button)
        top.addStretch(1)
        top.addWidget(self.summary)

        self.cards = {name: ServiceCard(name) for name in SERVICE_NAMES}
        cards_row = QHBoxLayout()
        for card in self.cards.values():
            card.startRequested.connect(stack.start_service)
            card.stopRequested.connect(stack.stop_service)
            card.restartRequested.connect(stack.restart_service)
            cards_row.addWidget(card)
        cards = QWidget()
        cards.setLayout(cards_row)

        self.logs = {name: LogView() for name in SERVICE_NAMES}
        self.log_tabs = QTabWidget()
        for name, view in self.logs.items():
            self.log_tabs.addTab(view, f"{TITLES[name]} log")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(cards)
        splitter.addWidget(self.log_tabs)
        splitter.setStretchFactor(1, 1)

        local = QWidget()
        layout = QVBoxLayout(local)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.error)
        layout.addWidget(splitter, 1)
        self.remote = RemoteServerView()
        self.views = QStackedWidget()
        self.views.addWidget(local)
        self.views.addWidget(self.remote)
        QVBoxLayout(self).addWidget(self.views)
        remote.stateChanged.connect(self._on_remote_state)
        self._on_remote_state(remote.state)

        stack.statusChanged.connect(self._on_status_changed)
        stack.busyChanged.connect(self._on_busy_changed)
        stack.actionFailed.connect(self._on_action_failed)
        stack.logLine.connect(self._on_log_line)
        stack.logReset.connect(self._on_log_reset)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._on_tick)
        self._ticker.start()
        self._on_status_changed(stack.statuses)
        if stack.last_failure:  # (this page is built the first time it shows)
            self._on_action_failed(*stack.last_failure)
        for name in SERVICE_NAMES:
            stack.follow_logs(name)

    def _on_remote_state(self, state: RemoteState | None) -> None:
        """A remote profile's server (None: the local stack again)."""
        if state is not None:
            self.remote.show_state(state)
        self.views.setCurrentIndex(0 if state is None else 1)

    def _on_start_clicked(self) -> None:
        self.error.hide()
        self.stack.start_stack()

    def _on_stop_clicked(self) -> None:
        self.error.hide()
        self.stack.stop_stack()

    def _on_restart_clicked(self) -> None:
        self.error.hide()
        self.stack.restart_stack()

    def _on_status_changed(self, statuses: list[ServiceStatus]) -> None:
        for status in statuses:
            card = self.cards.get(status.name)
            if card:
                card.show_status(status)
        states = [s.state for s in statuses]
        ready = sum(state is ServiceState.READY for state in states)
        self.summary.setText(f"{ready}/{len(states)} ready")
        any_active = any(state.is_active for state in states)
        self.start_button.setEnabled(ready < len(states))
        self.stop_button.setEnabled(any_active)
        self.restart_button.setEnabled(any_active)

    def _on_busy_changed(self, target: str, busy: bool) -> None:
        if target == "stack":
            self.start_button.setText("Starting..." if busy else "Start stack")
            for button in (self.start_button, self.restart_button):
                button.setEnabled(not busy)
            self.stop_button.setEnabled(True)  # stopping a slow start must stay possible
            if not busy:
                self._on_status_changed(self.stack.statuses)
        elif target in self.cards:
            self.cards[target].set_busy(busy)

    def _on_action_failed(self, target: str, message: str) -> None:
        if target in self.cards:
            self.cards[target].show_action_error(message)
        else:
            self.error.setText(message)
            self.error.show()

    def _on_log_line(self, service: str, line: str) -> None:
        view = self.logs.get(service)
        if view:
            view.append_line(line)

    def _on_log_reset(self, service: str) -> None:
        view = self.logs.get(service)
        if view:
            view.reset()

    def _on_tick(self) -> None:
        for card in self.cards.values():
            card.tick()
