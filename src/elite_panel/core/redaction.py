"""Secret values never reach a log line we write or show.

A :class:`Redactor` knows the values of the secrets in use and replaces them with
:data:`REDACTED`; :func:`install` puts one in front of every handler of the root logger,
so that a value in a message, its arguments or a traceback is replaced before formatting
(a filter on a logger would miss records from its children).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

REDACTED = "********"
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words; no real key is that short


class Redactor:
    """Replaces every known secret value in a text by ``***``."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: tuple[str, ...] = ()
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        known = set(self._values) | {v for v in values if len(v) >= MIN_SECRET_CHARS}
        # Longest first: a secret containing another is replaced whole.
        self._values = tuple(sorted(known, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def __bool__(self) -> bool:
        return bool(self._values)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its traceback text) through a :class:`Redactor`."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor:
            return True
        message = record.getMessage()
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


# Every secret value this process has read (the secret store adds them as it reads).
known = Redactor()


def install(redactor: Redactor = known, logger: logging.Logger | None = None) -> None:
    """Redact through ``redactor`` on every handler of ``logger`` (the root logger)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))
