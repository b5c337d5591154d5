"""API keys: created (shown once), listed, revoked, and checked on every request.

A key is ``eca_`` and 43 random URL-safe characters (256 bits). Only its SHA-256 is
stored: a key of that entropy needs no slow hash, and a lookup by hash is one indexed read.
Every check reads the database, so a revoked key is refused at once by every replica.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from embedded_server.db.engine import Database
from embedded_server.db.models import ApiKey, utcnow
from embedded_server.key_limits import KeyLimits, checked_rate_limit

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
    limits: KeyLimits  # its own (unset: the server's defaults)


@dataclass(frozen=True)
class Caller:
    """Who a valid key is: its name, its own rate limit (``None``: the default) and its
    own limits."""

    name: str
    rate_limit: str | None
    limits: KeyLimits


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _limits(row: ApiKey) -> KeyLimits:
    return KeyLimits(
        models=tuple(row.models) if row.models is not None else None,
        tpm=row.tpm,
        tokens_per_day=row.tokens_per_day,
        parallel=row.parallel,
        max_tokens=row.max_tokens,
    )


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.name,
        row.prefix,
        row.created_at,
        row.last_used_at,
        row.requests,
        row.revoked_at is not None,
        row.rate_limit,
        _limits(row),
    )


def _columns(limits: KeyLimits) -> dict[str, object]:
    """The limits set in ``limits`` as the row's values (``models`` a list)."""
    values: dict[str, object] = limits.model_dump(exclude_none=True)
    if "models" in values:
        values["models"] = list(limits.models or ())
    return values


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

    async def create(
        self, name: str, rate_limit: str | None = None, limits: KeyLimits | None = None
    ) -> str:
        """A new key called ``name`` (with its own ``rate_limit`` and ``limits``, else the
        defaults); returns the key (the only time it is seen)."""
        if not KEY_NAME.match(name):
            raise KeyRefused(
                f"{name!r} is not a key name: letters, digits and . _ @ -, at most 64", 400
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        limit = _limit(rate_limit)

        def work(session: Session) -> None:
            row = ApiKey(name=name, prefix=key[:12], hash=digest(key), created_at=utcnow())
            row.rate_limit = limit
            for column, value in _columns(limits or KeyLimits()).items():
                setattr(row, column, value)
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
        await self.update(name, {"rate_limit": rate_limit})

    async def update(self, name: str, changes: Mapping[str, Any]) -> None:
        """Change key ``name``'s ``rate_limit`` and the limits (``KeyLimits``' fields) in
        ``changes``; a limit changed to ``None`` is the server's default again."""
        try:
            KeyLimits(**{k: v for k, v in changes.items() if k != "rate_limit"})
        except ValidationError as exc:
            raise KeyRefused(f"invalid limits: {exc.errors()[0]['msg']}", 400) from None
        values = dict(changes)
        if "rate_limit" in values:
            values["rate_limit"] = _limit(values["rate_limit"])
        if values.get("models") is not None:
            values["models"] = list(values["models"])

        def work(session: Session) -> int:
            found = update(ApiKey).where(ApiKey.name == name)
            done = session.execute(found.values(**values) if values else found.values(name=name))
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
            return Caller(row.name, row.rate_limit, _limits(row))

        return await self.db.run(work)

    async def revoked(self, name: str) -> bool:
        """Whether key ``name`` is revoked (or gone): its open answers end."""

        def work(session: Session) -> bool:
            found = session.execute(
                select(ApiKey.id).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            ).first()
            return found is None

        return await self.db.run(work)
