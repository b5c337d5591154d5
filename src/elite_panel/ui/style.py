"""Colours and small presentation helpers shared by the widgets."""

from __future__ import annotations

from elite_panel.core.services import ServiceState

STATE_COLORS: dict[ServiceState, str] = {
    ServiceState.STOPPED: "#7f8c8d",
    ServiceState.STARTING: "#2980b9",
    ServiceState.READY: "#27ae60",
    ServiceState.UNHEALTHY: "#e67e22",
    ServiceState.CRASHED: "#c0392b",
    ServiceState.BACKOFF: "#d35400",
    ServiceState.FAILED: "#c0392b",
    ServiceState.STOPPING: "#8e44ad",
}


def badge_css(state: ServiceState) -> str:
    return (
        f"background:{STATE_COLORS[state]}; color:white; border-radius:8px;"
        "padding:2px 10px; font-weight:bold;"
    )


def format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
