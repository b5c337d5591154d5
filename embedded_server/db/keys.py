"""API keys: created (shown once), listed, revoked, and checked on every request.

A key is ``eca_`` and 43 random URL-safe characters (256 bits). Only its SHA-256 is
stored: a key of that entropy needs no slow hash, and a lookup by hash is one indexed read.
Every check reads the database, so a revoked key is refused at once by every replica.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from embedded_server.config import checked_rate_limit
from embedded_server.db.engine import Database
from embedded_server.db.models import ApiKey, utcnow

KEY_PREFIX = "eca_"
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class KeyRefused(Exception):
    """A key operation that cannot be done; the message says why, ``status`` is its HTTP
    status (400 an invalid name or limit, 404 an unknown key, 409 a taken name)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class KeyInfo:
    """What is shown of a key: never the key itself."""

    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    requests: int
    revoked: bool
    rate_limit: str | None  # None: the server's default


@dataclass(frozen=True)
class Caller:
    """Who a valid key is: its name, and its own rate limit (``None``: the default)."""

    name: str
    rate_limit: str | None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.name,
        row.prefix,
        row.created_at,
        row.last_used_at,
        row.requests,
        row.revoked_at is not None,
        row.rate_limit,
    )


def _limit(spec: str | None) -> str | None:
    """A key's limit as stored: ``None`` for the default, ``""`` for none."""
    if spec is None or spec.strip().lower() == "default":
        return None
    try:
        return checked_rate_limit(spec)
    except ValueError as exc:
        raise KeyRefused(f"{spec!r}: {exc}; or 'default', or 'off'", 400) from None


class KeyStore:
    """The ``api_keys`` table."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def create(self, name: str, rate_limit: str | None = None) -> str:
        """A new key called ``name`` (with its own ``rate_limit``, else the default);
        returns the key (the only time it is seen)."""
        if not KEY_NAME.match(name):
            raise KeyRefused(
                f"{name!r} is not a key name: letters, digits and . _ @ -, at most 64", 400
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        limit = _limit(rate_limit)

        def work(session: Session) -> None:
            row = ApiKey(name=name, prefix=key[:12], hash=digest(key), created_at=utcnow())
            row.rate_limit = limit
            session.add(row)

        try:
            await self.db.run(work)
        except IntegrityError:
            raise KeyRefused(f"a key called {name!r} exists already") from None
        return key

    async def list(self) -> list[KeyInfo]:
        def work(session: Session) -> list[KeyInfo]:
            rows = session.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars()
            return [_info(row) for row in rows]

        return await self.db.run(work)

    async def revoke(self, name: str) -> None:
        def work(session: Session) -> int:
            done = session.execute(
                update(ApiKey)
                .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

        if not await self.db.run(work):
            raise KeyRefused(f"no key called {name!r} (or it is revoked already)", 404)

    async def set_limit(self, name: str, rate_limit: str) -> None:
        """Give key ``name`` its own limit (``"default"``: the server's; ``"off"``: none)."""
        limit = _limit(rate_limit)

        def work(session: Session) -> int:
            done = session.execute(
                update(ApiKey).where(ApiKey.name == name).values(rate_limit=limit)
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

        if not await self.db.run(work):
            raise KeyRefused(f"no key called {name!r}", 404)

    async def check(self, key: str) -> Caller | None:
        """Who a valid key is (its use counted), or ``None``."""
        if not key.startswith(KEY_PREFIX):
            return None
        hashed = digest(key)

        def work(session: Session) -> Caller | None:
            row = session.execute(
                select(ApiKey).where(ApiKey.hash == hashed, ApiKey.revoked_at.is_(None))
            ).scalar_one_or_none()
            if row is None:
                return None
            row.requests += 1
            row.last_used_at = utcnow()
            return Caller(row.name, row.rate_limit)

        return await self.db.run(work)

    async def revoked(self, name: str) -> bool:
        """Whether key ``name`` is revoked (or gone): its open answers end."""

        def work(session: Session) -> bool:
            found = session.execute(
                select(ApiKey.id).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            ).first()
            return found is None

        return await self.db.run(work)
