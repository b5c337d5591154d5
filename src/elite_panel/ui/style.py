"""Small presentation helpers shared by the widgets (the colours are the theme's)."""

from __future__ import annotations

from elite_panel.core.services import ServiceState
from elite_panel.ui.theme import STATE_COLORS


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
