"""Which group a conversation is listed under: Pinned, Today, Yesterday, Previous 7 days,
then one group per month ("November 2026"), by its last update in local time."""

from __future__ import annotations

from datetime import datetime, timedelta


def date_group(updated: datetime, now: datetime, pinned: bool = False) -> str:
    """The group of a conversation updated at ``updated`` (both times zoned)."""
    if pinned:
        return "Pinned"
    day = updated.astimezone(now.tzinfo).date()
    today = now.date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day > today - timedelta(days=7):
        return "Previous 7 days"
    return f"{day:%B %Y}"
