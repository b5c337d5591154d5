"""``manifest.json``: what an archive holds and how to check it.

Written as the archive's last member, once every other member has been hashed while it
was written (one read of each file). The format version says how to read the rest: a newer
one is refused, an older one is migrated by :data:`MIGRATIONS` (none yet: version 1 is the
first).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from embedded_server.backups import BackupFailed

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
# version N → a function turning a version-N manifest into version N + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class ArchiveInvalid(BackupFailed):
    """An archive that fails verification; the message says which check failed."""


@dataclass(frozen=True)
class Member:
    """One file of an archive: its name, size and SHA-256."""

    sha256: str
    size: int


@dataclass
class Manifest:
    """What an archive holds and where it comes from (``manifest.json``)."""

    app_version: str
    schema_version: str | None
    host: str
    created: str  # ISO 8601, UTC
    database: dict[str, Any]  # kind, file, conversations, messages, size
    include_logs: bool
    secret_names: list[str]  # secrets set when the backup was made (names only)
    models: int  # how many entries models.json lists
    reason: str = "manual"  # manual, scheduled, or "before restoring <archive>"
    members: dict[str, Member] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            version = int(data["format_version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveInvalid(f"{MANIFEST_NAME} is not a readable manifest ({exc})") from exc
        if version > FORMAT_VERSION:
            raise ArchiveInvalid(
                f"this archive has format version {version}, newer than this version reads "
                f"({FORMAT_VERSION}): restore it with a newer Elite Coding Assistant"
            )
        while version < FORMAT_VERSION:
            if version not in MIGRATIONS:
                raise ArchiveInvalid(f"{MANIFEST_NAME} has an unknown format version {version}")
            data = MIGRATIONS[version](data)
            version = int(data["format_version"])
        try:
            members = {k: Member(**v) for k, v in data.pop("members").items()}
            return cls(members=members, **data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ArchiveInvalid(
                f"{MANIFEST_NAME} lacks a field or has a wrong one ({exc})"
            ) from exc
