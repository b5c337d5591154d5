"""A team's server on the Stack page: where it is, whether it is ready, its version, who the
key is, and its pool's runners, live. Nothing to start or stop: that is done where it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from elite_panel.ui import theme
from elite_panel.ui.main_window import remote_state
from elite_panel.ui.style import badge_css
from elite_panel.ui.widgets.actions import fill, record_table

if TYPE_CHECKING:
    from elite_panel.client.records import KeyUse, Runner
    from elite_panel.client.server_state import RemoteState

RUNNERS = ("Runner", "Kind", "State", "Models", "In flight", "Requests", "Last error")
USAGE = ("Key", "Requests", "Failed", "Prompt tokens", "Answer tokens")


class RemoteServerView(QWidget):
    """The remote server's state (from :class:`RemoteAdapter`'s ``stateChanged``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel()
        self.heading.setObjectName("remoteHeading")
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setObjectName("remoteStatus")
        self.status.setStyleSheet(theme.error_style())
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.identity = QLabel()
        self.identity.setWordWrap(True)
        self.runners = record_table(RUNNERS, stretch=len(RUNNERS) - 1)
        self.runners.setAccessibleName("The server's runners")
        # What each key used (the admin token sees every key's).
        self.usage_label = QLabel("Use of the last 7 days, by key")
        self.usage = record_table(USAGE, stretch=0)
        self.usage.setAccessibleName("Each key's use of the last 7 days")
        note = QLabel(
            "This profile uses a team's server: nothing runs on this machine, and the "
            "server is started, stopped and backed up where it runs (Compose, Kubernetes)."
        )
        note.setWordWrap(True)
        note.setObjectName("remoteNote")
        self.badge = QLabel()
        self.badge.setObjectName("remoteBadge")
        top = QHBoxLayout()
        top.addWidget(self.heading)
        top.addWidget(self.badge)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.identity)
        layout.addWidget(QLabel("Runners"))
        layout.addWidget(self.runners, 1)
        layout.addWidget(self.usage_label)
        layout.addWidget(self.usage, 1)
        layout.addWidget(note)

    def show_state(self, state: RemoteState) -> None:
        self.heading.setText(f"<b>Team server</b> {state.url}")
        word, color = remote_state(state)
        self.badge.setText(word)
        self.badge.setStyleSheet(badge_css(color))
        failing = {k: v for k, v in state.checks.items() if v != "ok"}
        if state.error:
            self.status.setText(state.error)
        elif failing:
            self.status.setText("; ".join(f"{k} {v}" for k, v in failing.items()))
        self.status.setVisible(bool(state.error or failing))
        if state.info is not None:
            who = (
                "the admin token"
                if state.info.admin
                else f"the key “{state.info.key}” (models are the admin's to change)"
            )
            self.identity.setText(f"Version {state.info.version} · connected with {who}")
        fill(self.runners, [_row(runner) for runner in state.runners])
        fill(self.usage, [_usage_row(use) for use in state.usage])
        self.usage.setVisible(bool(state.usage))
        self.usage_label.setVisible(bool(state.usage))
        for row in range(self.runners.rowCount()):  # the whole text where a cell elides it
            for column in (RUNNERS.index("Models"), RUNNERS.index("Last error")):
                item = self.runners.item(row, column)
                if item is not None:
                    item.setToolTip(item.text())


def _row(runner: Runner) -> list[str]:
    return [
        runner.name,
        runner.kind,
        runner.state,
        ", ".join(runner.models),
        str(runner.in_flight),
        str(runner.requests),
        runner.last_error or "",
    ]


def _usage_row(use: KeyUse) -> list[str]:
    counts = (use.requests, use.errors, use.prompt_tokens, use.completion_tokens)
    return [use.key, *(f"{count:,}" for count in counts)]
