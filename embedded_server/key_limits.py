"""What an API key may use: its limits in tokens and answers (:class:`KeyLimits`) and its
request rate (a rate-limit string, :func:`checked_rate_limit`). The settings, the keys'
table and the quotas all read these; they import nothing of the server."""

from __future__ import annotations

from typing import Annotated

import limits
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_RATE_LIMIT = "60/minute;1000/hour"
LIMIT_MAX = 2**31 - 1  # a limit is a 32-bit integer column


class KeyLimits(BaseModel):
    """What an API key may use: the models, tokens (prompt and answer, as the runner counts
    them) a minute and a day, answers at once, and the longest answer. A key's own limits
    and the server's defaults for keys (``ASSISTANT_KEY_DEFAULTS``, JSON); in a key's, an
    unset limit is the default's; 0 (or no models) is no limit. The admin token has none."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[Annotated[str, Field(min_length=1, max_length=256)], ...] | None = Field(
        default=None, max_length=100
    )
    tpm: int | None = Field(default=None, ge=0, le=LIMIT_MAX)
    tokens_per_day: int | None = Field(default=None, ge=0, le=LIMIT_MAX)
    parallel: int | None = Field(default=None, ge=0, le=LIMIT_MAX)
    max_tokens: int | None = Field(default=None, ge=0, le=LIMIT_MAX)

    def over(self, defaults: KeyLimits) -> KeyLimits:
        """These limits, with ``defaults`` where one is unset."""
        mine = self.model_dump(exclude_none=True)
        return KeyLimits(**{**defaults.model_dump(exclude_none=True), **mine})


def checked_rate_limit(value: str) -> str:
    """``value`` if it is a rate limit such as ``"60/minute;1000/hour"``; ``""`` for
    off/none/empty. Raises ValueError otherwise."""
    if value.strip().lower() in ("", "off", "none"):
        return ""
    try:
        limits.parse_many(value)
    except ValueError as exc:
        raise ValueError(f"not a rate limit like {DEFAULT_RATE_LIMIT!r}") from exc
    return value
