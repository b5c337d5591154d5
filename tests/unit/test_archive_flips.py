"""Every single flipped byte of a backup archive is seen by verification, unless the
archive still unpacks to exactly the same bytes (a spare bit of zstd's code): tar's
padding and headers are covered by the zstd frame's checksum, read to its end."""

from __future__ import annotations

from pathlib import Path

import zstandard

from embedded_server.backups.archive import Source, read_archive, write_archive
from embedded_server.backups.manifest import ArchiveInvalid, Manifest


def test_no_flipped_byte_that_changes_the_archive_goes_unseen(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello world\n" * 50, encoding="utf-8")
    (tmp_path / "assistant.db").write_bytes(bytes(3000))
    manifest = Manifest("1", None, "host", "2026-12-01T00:00:00Z", {}, False, [], 0)
    good = tmp_path / "good.tar.zst"
    with good.open("wb") as out:
        sources = [Source(n, tmp_path / n) for n in ("notes.txt", "assistant.db")]
        write_archive(out, sources, manifest)
    data = good.read_bytes()
    content = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True).read()
    unseen = []
    bad = tmp_path / "bad.tar.zst"
    for at in range(len(data)):
        flipped = bytearray(data)
        flipped[at] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        try:
            read_archive(bad)
        except ArchiveInvalid:
            continue
        reader = zstandard.ZstdDecompressor().stream_reader(bytes(flipped), read_across_frames=True)
        if reader.read() != content:
            unseen.append(at)
    assert unseen == [], f"{len(unseen)} of {len(data)} flipped bytes went unseen"
