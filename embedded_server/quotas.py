"""Per-key limits in tokens and answers, counted where the rate limits are: in Redis when it
is configured (every replica sees the same counters), in memory otherwise.

- ``models``: a key limited to some models is refused the others (403
  ``model_not_allowed``);
- ``max_tokens``: an answer's length: a request asking more is refused (422), one asking
  none is given the cap;
- ``parallel``: answers streaming at once: one more is refused (429, ``Retry-After: 1``);
- ``tpm``, ``tokens_per_day``: prompt and answer tokens a minute and a day (fixed windows),
  spent when the answer ends (as the runner counted them, else as the server did); before
  it, the prompt must fit what is left, else 429 with ``Retry-After`` until the window
  turns.

Each refusal names the limit. A shared store that fails lets the request through (and
logs it), as the rate limits do: Redis going away must not stop the assistant.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from embedded_server.key_limits import KeyLimits
from embedded_server.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# The token windows: the limit's field, its length, and how it is said.
WINDOWS = (("tpm", 60, "tokens a minute"), ("tokens_per_day", 86_400, "tokens a day"))
PARALLEL_EXPIRY_S = 3600  # a replica that died holding answers frees them after this


class Refused(Exception):
    """A request over a key's limit: the message names it; ``status``, ``code`` and
    ``retry_after`` (seconds) are the answer's."""

    def __init__(
        self, message: str, status: int, code: str, limit: str, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class Admitted:
    """An answer let in: what to give back when it ends."""

    key: str
    limits: KeyLimits
    parallel: bool  # holds one of the key's parallel answers


class Quotas:
    """The per-key limits' counters (see the module's docstring)."""

    def __init__(self, limiter: RateLimiter, defaults: KeyLimits) -> None:
        self.storage = limiter.storage
        self.defaults = defaults

    def limits_of(self, own: KeyLimits) -> KeyLimits:
        return own.over(self.defaults)

    def options_for(
        self, key: str, limits: KeyLimits, model: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """``options`` within the key's model and answer-length limits (the cap given to
        a request that asks none); raises :class:`Refused`."""
        allowed = limits.models
        if allowed and model not in allowed and model.removesuffix(":latest") not in allowed:
            raise Refused(
                f"the key {key!r} may use the models {', '.join(allowed)}, not {model!r}",
                403,
                "model_not_allowed",
                "models",
            )
        cap = limits.max_tokens
        if not cap:
            return options
        asked = options.get("max_tokens")
        if asked and asked > cap:
            raise Refused(
                f"options.max_tokens: the key {key!r} may ask at most {cap:,} tokens an answer",
                422,
                "invalid_request",
                "max_tokens",
            )
        return {**options, "max_tokens": asked or cap}

    async def admit(self, key: str, limits: KeyLimits, prompt_tokens: int) -> Admitted:
        """Let an answer of a ``prompt_tokens`` prompt in, or raise :class:`Refused`."""
        now = time.time()
        for field, seconds, said in WINDOWS:
            limit = getattr(limits, field)
            if not limit:
                continue
            used = await self._get(_window(field, key, seconds, now))
            if used + prompt_tokens > limit:
                wait = math.ceil(seconds - now % seconds)
                raise Refused(
                    f"the key {key!r} used {used:,} of its {limit:,} {said}, and this prompt "
                    f"needs {prompt_tokens:,}: try again in {wait} s",
                    429,
                    "rate_limited",
                    field,
                    wait,
                )
        if limits.parallel:
            holding = await self._add(_parallel(key), PARALLEL_EXPIRY_S, 1)
            if holding > limits.parallel:
                await self._add(_parallel(key), PARALLEL_EXPIRY_S, -1)
                raise Refused(
                    f"the key {key!r} has {limits.parallel} answers streaming, its most at "
                    "once: try again when one ends",
                    429,
                    "rate_limited",
                    "parallel",
                    1,
                )
        return Admitted(key, limits, bool(limits.parallel))

    async def release(self, admitted: Admitted, tokens: int) -> None:
        """An answer ended, having used ``tokens`` (prompt and answer)."""
        if admitted.parallel:
            await self._add(_parallel(admitted.key), PARALLEL_EXPIRY_S, -1)
        now = time.time()
        for field, seconds, _said in WINDOWS:
            if getattr(admitted.limits, field) and tokens > 0:
                await self._add(_window(field, admitted.key, seconds, now), seconds, tokens)

    async def _get(self, counter: str) -> int:
        try:
            return int(await self.storage.get(counter))
        except Exception as exc:  # storage errors come in many types (redis, network)
            log.warning("quota store unavailable, request allowed: %s", exc)
            return 0

    async def _add(self, counter: str, expiry: int, amount: int) -> int:
        try:
            return int(await self.storage.incr(counter, expiry, amount))
        except Exception as exc:
            log.warning("quota store unavailable, not counted: %s", exc)
            return 0


def _window(field: str, key: str, seconds: int, now: float) -> str:
    return f"quota:{field}:{key}:{int(now // seconds)}"


def _parallel(key: str) -> str:
    return f"quota:parallel:{key}"
