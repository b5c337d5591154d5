"""What each caller used: one row per caller, day (UTC) and model, added to as answers end
(one upsert each, on SQLite and PostgreSQL alike), read back as a report."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from embedded_server.db.engine import Database
from embedded_server.db.models import KeyUsage


@dataclass(frozen=True)
class UsageRow:
    """One caller's use of one model on one day."""

    key: str
    day: str
    model: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int

    def public(self) -> dict[str, Any]:
        return asdict(self)


class UsageStore:
    """The ``key_usage`` table."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def record(
        self, key: str, model: str, prompt_tokens: int, completion_tokens: int, failed: bool
    ) -> None:
        """Add one answer to today's row of ``key`` and ``model``."""
        day = datetime.now(UTC).date().isoformat()
        values = {
            "key": key,
            "day": day,
            "model": model or "-",
            "requests": 1,
            "errors": int(failed),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        insert = dialect.insert(KeyUsage).values(**values)
        added = {
            name: getattr(KeyUsage, name) + getattr(insert.excluded, name)
            for name in ("requests", "errors", "prompt_tokens", "completion_tokens")
        }
        upsert = insert.on_conflict_do_update(index_elements=["key", "day", "model"], set_=added)

        def work(session: Session) -> None:
            session.execute(upsert)

        await self.db.run(work)

    async def report(self, key: str | None, days: int) -> list[UsageRow]:
        """The rows of the last ``days`` days (today included), of ``key`` or of all,
        newest day first."""
        since = (datetime.now(UTC).date() - timedelta(days=days - 1)).isoformat()
        query = select(KeyUsage).where(KeyUsage.day >= since)
        if key is not None:
            query = query.where(KeyUsage.key == key)
        query = query.order_by(KeyUsage.day.desc(), KeyUsage.key, KeyUsage.model)

        def work(session: Session) -> list[UsageRow]:
            return [
                UsageRow(
                    r.key,
                    r.day,
                    r.model,
                    r.requests,
                    r.errors,
                    r.prompt_tokens,
                    r.completion_tokens,
                )
                for r in session.execute(query).scalars()
            ]

        return await self.db.run(work)


def totals(rows: list[UsageRow]) -> dict[str, int]:
    """The rows' sums."""
    return {
        name: sum(getattr(r, name) for r in rows)
        for name in ("requests", "errors", "prompt_tokens", "completion_tokens")
    }


def days_since(since: str) -> int:
    """The days a report of ``since`` covers: ``7d`` (today and the six before), or a date
    (``2026-12-01``); raises ValueError for anything else."""
    if since.endswith("d") and since[:-1].isdigit() and 0 < int(since[:-1]) <= 3660:
        return int(since[:-1])
    first = datetime.strptime(since, "%Y-%m-%d").date()  # ValueError names the format
    days = (datetime.now(UTC).date() - first).days + 1
    if not 0 < days <= 3660:
        raise ValueError(f"{since}: a day of the last ten years")
    return days
