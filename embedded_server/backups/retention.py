"""Which backups to keep: the newest ``keep_last``, plus the newest backup of each of the
last ``keep_daily`` days that have one (restic's ``forget --keep-last --keep-daily``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


def to_forget(times: Sequence[datetime], keep_last: int, keep_daily: int) -> set[int]:
    """Indexes into ``times`` of the backups the policy does not keep. Both zero keeps
    everything (no policy), like restic without ``--keep-*``."""
    if keep_last <= 0 and keep_daily <= 0:
        return set()
    order = sorted(range(len(times)), key=lambda i: times[i], reverse=True)
    keep = set(order[:keep_last])
    days: set[object] = set()
    for i in order:
        if len(days) >= keep_daily:
            break
        day = times[i].astimezone().date()
        if day not in days:
            days.add(day)
            keep.add(i)
    return set(range(len(times))) - keep
