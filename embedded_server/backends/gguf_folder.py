"""The built-in runner's models: GGUF files in a folder, plus its bundled model and its
bundled embedding model.

Imports copy a file in under a temporary name (after checking the GGUF magic and the free
space) and rename it when complete, so a cancelled or failed import registers nothing.
The runner serves every file of the folder once it restarts (the supervisor writes its
configuration from the folder at each start).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from embedded_server.backends.base import ModelInfo, ModelNotFound, Unsupported
from embedded_server.backends.gguf_header import GGUF_MAGIC, GgufError, iter_metadata
from embedded_server.backends.gguf_tokenizer import GgufTokenizers

CHUNK = 8 * 1024 * 1024
SPACE_MARGIN = 64 * 1024 * 1024  # never fill the disk to the last byte
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class GgufFolder:
    """The built-in runner's model folder: the bundled GGUF and the imported ones.

    ``context_tokens`` is the window the runner was started with (the profile's
    ``runner.context_tokens``); ``None``: each model's trained window (llama.cpp's
    ``n_ctx 0``)."""

    folder: Path
    bundled: Path | None = None
    context_tokens: int | None = None
    tokenizers: GgufTokenizers | None = None  # None: llama.cpp is not installed here
    embedding: Path | None = None  # the bundled embedding model (served as embeddings only)

    def files(self) -> list[Path]:
        found = sorted(self.folder.glob("*.gguf")) if self.folder.is_dir() else []
        shipped = [p for p in (self.bundled, self.embedding) if p and p.is_file()]
        return shipped + found

    def models(self) -> list[ModelInfo]:
        models = []
        for path in self.files():
            trained = trained_context_length(path, path.stat().st_mtime_ns)
            models.append(
                ModelInfo(
                    name=path.stem,
                    size=path.stat().st_size,
                    modified_at=datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(),
                    bundled=path in (self.bundled, self.embedding),
                    embedding=path == self.embedding,
                    context_length=min(filter(None, (self.context_tokens, trained)), default=None),
                    trained_context_length=trained,
                )
            )
        return models

    def path_of(self, name: str) -> Path:
        for path in self.files():
            if path.stem == name:
                return path
        raise ModelNotFound(f"model {name!r} not found in {self.folder}")

    def delete(self, name: str) -> None:
        path = self.path_of(name)
        if path in (self.bundled, self.embedding):
            raise Unsupported(f"{name} is a bundled model: it cannot be deleted")
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


# GGUF's value types (ggml's gguf.h): the fixed sizes, and the three read differently.
@functools.lru_cache(maxsize=256)
def trained_context_length(path: Path, mtime_ns: int = 0) -> int | None:
    """The context window a GGUF model was trained for (``<architecture>.context_length``
    in its header); ``None`` when the file does not say or is not GGUF (version 2 or 3).
    Kept per file and ``mtime_ns`` (a file replaced under the same name is read again).
    The header is read up to that key (a few kilobytes)."""
    try:
        with path.open("rb") as fh:
            architecture = None
            for key, value in iter_metadata(fh):
                if key == "general.architecture":
                    architecture = value
                elif key == f"{architecture}.context_length":
                    return value if isinstance(value, int) else None
    except (OSError, GgufError, UnicodeDecodeError):
        return None
    return None
