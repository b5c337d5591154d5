"""Output of the command-line tool: results to stdout (flushed, for pipes), errors to
stderr. Logging is for diagnostics; these are what the person asked for."""

from __future__ import annotations

import json
import sys


def out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def out_json(value: object) -> None:
    """A command's ``--json`` answer: indented, one trailing newline."""
    out(json.dumps(value, indent=2) + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")
