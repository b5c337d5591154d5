"""The archive itself: a tar stream inside a multithreaded zstandard frame.

Writing hashes every member while it is written (each file is read once) and ends with
``manifest.json``. Reading checks, member by member, that each is a plain file with a safe
relative name listed in the manifest, with the manifest's size and SHA-256; a reader that
extracts writes only into the folder it is given.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from embedded_server.backups.manifest import MANIFEST_NAME, ArchiveInvalid, Manifest, Member

CHUNK = 1024 * 1024
ZSTD_LEVEL = 3  # measured: as small as gzip -6 and several times faster (bench_backup)
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


@dataclass(frozen=True)
class Source:
    """A file to archive under ``name`` (a relative POSIX path)."""

    name: str
    path: Path


class _Hashing(io.RawIOBase):
    """Reads a file for tarfile while hashing it and reporting progress."""

    def __init__(self, fh: BinaryIO, on_read: Callable[[int], None]) -> None:
        self._fh = fh
        self.digest = hashlib.sha256()
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._fh.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.digest.update(buffer[:n])
            self._on_read(n)
        return int(n or 0)

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        if data:
            self.digest.update(data)
            self._on_read(len(data))
        return data


def write_archive(
    target: IO[bytes],
    sources: Iterable[Source],
    manifest: Manifest,
    progress: Progress | None = None,
) -> Manifest:
    """Write ``sources`` then the manifest (filled with their checksums) to ``target``."""
    files = list(sources)
    total = sum(s.path.stat().st_size for s in files)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    import zstandard  # only when archiving: the supervisor must not carry it at rest

    # The frame's checksum covers every byte, tar's padding and headers included.
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1, write_checksum=True)
    with (
        compressor.stream_writer(target, closefd=False) as zstd_out,
        tarfile.open(fileobj=zstd_out, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for source in files:
            info = _file_info(source.name, source.path.stat().st_size)
            with source.path.open("rb") as fh:
                reader = _Hashing(fh, advance)
                tar.addfile(info, reader)  # type: ignore[arg-type]
            manifest.members[source.name] = Member(reader.digest.hexdigest(), info.size)
        body = manifest.to_json().encode()
        tar.addfile(_file_info(MANIFEST_NAME, len(body)), io.BytesIO(body))
    return manifest


def _file_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(time.time())
    return info


def read_archive(
    path: Path, extract_to: Path | None = None, progress: Progress | None = None
) -> Manifest:
    """Check every member of ``path`` (and write them under ``extract_to`` when given).

    Raises:
        ArchiveInvalid: not a zstd/tar stream, a truncated one, a member that is not a
            plain file or has an unsafe name, a checksum or size that differs, a member
            missing from the archive or absent from the manifest, a newer format.
    """
    import zstandard

    seen: dict[str, Member] = {}
    manifest: Manifest | None = None
    total = path.stat().st_size
    try:
        with path.open("rb") as raw:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for info in tar:
                    if manifest is not None:
                        raise ArchiveInvalid(f"{info.name!r} follows the manifest")
                    name = _safe_name(info)
                    if name in seen:
                        raise ArchiveInvalid(f"{name!r} appears twice in the archive")
                    stream = tar.extractfile(info)
                    assert stream is not None  # a regular file, checked above
                    if name == MANIFEST_NAME:
                        manifest = Manifest.from_json(stream.read())
                        continue
                    seen[name] = _copy_member(name, stream, extract_to)
                    if progress:
                        progress(raw.tell(), total)
            while reader.read(1 << 16):  # to the frame's end, where its checksum is checked
                pass
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise ArchiveInvalid(f"{path.name} is damaged or truncated ({exc})") from exc
    if manifest is None:
        raise ArchiveInvalid(f"{path.name} has no {MANIFEST_NAME}: not a complete backup")
    extra = sorted(set(seen) - set(manifest.members))
    missing = sorted(set(manifest.members) - set(seen))
    if extra:
        raise ArchiveInvalid(f"{path.name} holds a member not in its manifest: {extra[0]}")
    if missing:
        raise ArchiveInvalid(f"{path.name} lacks a member its manifest lists: {missing[0]}")
    for name, member in seen.items():
        expected = manifest.members[name]
        if member != expected:
            raise ArchiveInvalid(
                f"{name} in {path.name} differs from its manifest (checksum or size): "
                "the archive is damaged"
            )
    return manifest


def _safe_name(info: tarfile.TarInfo) -> str:
    name = info.name
    if not info.isreg():
        raise ArchiveInvalid(f"{name!r} is not a plain file (a link, folder or device)")
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or ".." in parts or "\\" in name or not parts:
        raise ArchiveInvalid(f"{name!r} is not a safe relative path")
    return str(PurePosixPath(*parts))


def _copy_member(name: str, stream: IO[bytes], extract_to: Path | None) -> Member:
    digest = hashlib.sha256()
    size = 0
    out: BinaryIO | None = None
    if extract_to is not None:
        target = extract_to / name
        target.parent.mkdir(parents=True, exist_ok=True)
        out = target.open("wb")
    try:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if out is not None:
                out.write(chunk)
        if out is not None:
            out.flush()
            os.fsync(out.fileno())
    finally:
        if out is not None:
            out.close()
    return Member(digest.hexdigest(), size)
