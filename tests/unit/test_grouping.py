"""Conversations grouped by their last update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from elite_panel.chat.grouping import date_group

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_groups_by_day_then_by_month() -> None:
    assert date_group(NOW - timedelta(hours=8), NOW) == "Today"
    assert date_group(NOW - timedelta(hours=10), NOW) == "Yesterday"  # 23:00 the day before
    assert date_group(NOW - timedelta(days=3), NOW) == "Previous 7 days"
    assert date_group(NOW - timedelta(days=6, hours=8), NOW) == "Previous 7 days"
    assert date_group(NOW - timedelta(days=8), NOW) == "November 2026"
    assert date_group(datetime(2026, 9, 2, tzinfo=UTC), NOW) == "September 2026"
    assert date_group(NOW - timedelta(days=40), NOW, pinned=True) == "Pinned"
