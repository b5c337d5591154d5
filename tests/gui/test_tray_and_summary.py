from __future__ import annotations

import pytest

from elite_panel.cli.commands import format_table
from elite_panel.core.services import ServiceState, ServiceStatus, stopped_statuses
from elite_panel.ui.main_window import stack_summary
from elite_panel.ui.tray import overall_state

pytestmark = pytest.mark.gui


def statuses(runner: ServiceState, assistant: ServiceState) -> list[ServiceStatus]:
    return [ServiceStatus("runner", runner, "builtin"), ServiceStatus("assistant", assistant, "a")]


@pytest.mark.parametrize(
    ("runner", "assistant", "expected"),
    [
        (ServiceState.READY, ServiceState.READY, ServiceState.READY),
        (ServiceState.BACKOFF, ServiceState.READY, ServiceState.BACKOFF),
        (ServiceState.FAILED, ServiceState.STARTING, ServiceState.FAILED),
        (ServiceState.STOPPED, ServiceState.READY, ServiceState.STOPPED),
        (ServiceState.STOPPED, ServiceState.STOPPED, ServiceState.STOPPED),
    ],
)
def test_tray_shows_the_worst_state(
    runner: ServiceState, assistant: ServiceState, expected: ServiceState
) -> None:
    assert overall_state(statuses(runner, assistant)) is expected


def test_status_bar_summary() -> None:
    assert stack_summary(stopped_statuses(), connected=False) == "Stack: stopped"
    ready = statuses(ServiceState.READY, ServiceState.READY)
    assert stack_summary(ready, True) == "Stack: ready (runner ready, assistant ready)"
    partial = statuses(ServiceState.BACKOFF, ServiceState.READY)
    assert stack_summary(partial, True).startswith("Stack: partial")


def test_status_table_shows_first_error_line() -> None:
    crashed = ServiceStatus(
        "runner",
        ServiceState.CRASHED,
        "builtin",
        restarts=2,
        last_error="killed by signal 9\n--- tail ---",
    )
    table = format_table([crashed])
    assert table.splitlines()[0].split() == [
        "SERVICE",
        "STATE",
        "KIND",
        "PID",
        "URL",
        "UPTIME",
        "RESTARTS",
        "LAST",
        "ERROR",
    ]
    assert "killed by signal 9" in table and "tail" not in table
