"""Logging as text or JSON lines (``ASSISTANT_LOG_FORMAT``), for the server and uvicorn
alike; every line logged while a request is served carries its request id.

The request id comes from the proxy in front (nginx's ``$request_id`` in
``X-Request-ID``) or is made here; it is sent back, passed to the runner's request and put
on each log line about that request, so that nginx, a replica and a runner can be read
together.
"""

from __future__ import annotations

import logging.config
import re
import secrets
from contextvars import ContextVar
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# The request being served: its id, and what the routes add for its access line (the
# key's name, the tokens of its answer).
REQUEST: ContextVar[dict[str, Any] | None] = ContextVar("request", default=None)


def request_id(given: str | None = None) -> str:
    """``given`` when it is a plausible request id (from the proxy), else a new one."""
    if given and REQUEST_ID.match(given):
        return given
    return secrets.token_hex(16)


def current_request_id() -> str | None:
    served = REQUEST.get()
    return served["id"] if served else None


async def pass_request_id(request: Any) -> None:
    """An httpx request hook: the runner's request carries the request's id."""
    if (served := current_request_id()) is not None:
        request.headers["X-Request-ID"] = served


class RequestFields(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict, also handed to uvicorn as its ``log_config``."""
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FORMAT,
            "rename_fields": {"levelname": "level", "name": "logger"},
        }
        if fmt == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"request": {"()": RequestFields}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"level": level},
            "uvicorn.access": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
            "httpx2": {"level": "WARNING"},
        },
    }


def configure(level: str, fmt: str) -> None:
    logging.config.dictConfig(logging_config(level, fmt))
