"""The built-in runner's models: GGUF files in a folder, plus its bundled model.

Imports copy a file in under a temporary name (after checking the GGUF magic and the free
space) and rename it when complete, so a cancelled or failed import registers nothing.
The runner serves every file of the folder once it restarts (the supervisor writes its
configuration from the folder at each start).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from embedded_server.backends.base import ModelInfo, ModelNotFound, Unsupported

GGUF_MAGIC = b"GGUF"
CHUNK = 8 * 1024 * 1024
SPACE_MARGIN = 64 * 1024 * 1024  # never fill the disk to the last byte
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class GgufFolder:
    """The built-in runner's model folder: the bundled GGUF and the imported ones."""

    folder: Path
    bundled: Path | None = None

    def files(self) -> list[Path]:
        found = sorted(self.folder.glob("*.gguf")) if self.folder.is_dir() else []
        return ([self.bundled] if self.bundled and self.bundled.is_file() else []) + found

    def models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                name=path.stem,
                size=path.stat().st_size,
                modified_at=datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(),
                bundled=path == self.bundled,
            )
            for path in self.files()
        ]

    def path_of(self, name: str) -> Path:
        for path in self.files():
            if path.stem == name:
                return path
        raise ModelNotFound(f"model {name!r} not found in {self.folder}")

    def delete(self, name: str) -> None:
        path = self.path_of(name)
        if path == self.bundled:
            raise Unsupported(f"{name} is the bundled model: it cannot be deleted")
        path.unlink()

    async def import_file(
        self, source: str, name: str | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        src = Path(source).expanduser()
        if not src.is_file():
            raise ModelNotFound(f"no such file: {src}")
        with src.open("rb") as fh:
            if fh.read(4) != GGUF_MAGIC:
                raise Unsupported(f"{src.name} is not a GGUF file (no GGUF magic at its start)")
        name = name or src.stem
        if not NAME.match(name):
            raise Unsupported(f"invalid model name {name!r}: letters, digits, '.', '_', '-'")
        if any(p.stem == name for p in self.files()):
            raise Unsupported(f"a model named {name!r} already exists: choose another name")
        total = src.stat().st_size
        self.folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.folder).free
        if free < total + SPACE_MARGIN:
            raise Unsupported(
                f"not enough free space in {self.folder}: {total / 1e9:.2f} GB needed, "
                f"{free / 1e9:.2f} GB free"
            )
        target = self.folder / f"{name}.gguf"
        partial = self.folder / f".{name}.gguf.partial"
        done = 0
        try:
            with src.open("rb") as reader, partial.open("wb") as writer:
                yield {"status": "copying", "completed": 0, "total": total}
                while chunk := await asyncio.to_thread(reader.read, CHUNK):
                    await asyncio.to_thread(writer.write, chunk)
                    done += len(chunk)
                    yield {"status": "copying", "completed": done, "total": total}
                await asyncio.to_thread(os.fsync, writer.fileno())
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()  # cancelled or failed: nothing half-registered
        yield {"status": "success", "name": name, "size": total}
