"""The control channel's wire format: one JSON object per line over a Unix socket.

A client sends one request ``{"cmd": ..., ...}``; the daemon answers one reply
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``, or, for ``watch`` and
``logs --follow``, a stream of objects until either side closes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

MAX_LINE = 1 << 20


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or ``None`` at end of stream."""
    line = await reader.readline()
    if not line:
        return None
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("a control message must be a JSON object")
    return message
