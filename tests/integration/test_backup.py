"""Backups for real: archives of a live SQLite database, damaged archives refused with
nothing changed, a full disk, a restore that fails halfway, retention, no secret inside."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard

from elite_panel.backup.service import BackupError, BackupService
from elite_panel.core.paths import AppPaths
from elite_panel.core.profile_store import ProfileStore
from embedded_server.backups.archive import read_archive
from embedded_server.backups.folder import PREFIX, STAMP, SUFFIX
from embedded_server.backups.retention import to_forget
from tests.conftest import Home, wait_for
from tests.fakes import openai_double
from tests.fakes.ollama_double import free_port, serve_in_thread

TOKEN = "backup-test-token"


@pytest.fixture
def paths(home: Home) -> AppPaths:
    return AppPaths.from_env(home.env).ensure()


def service(paths: AppPaths, home: Home) -> BackupService:
    store = ProfileStore(paths, home.env)
    return BackupService(paths, store.load("default"), home.env)


@pytest.fixture
def server(paths: AppPaths, home: Home) -> Iterator[str]:
    """The real assistant server on this home's database, answering from the OpenAI double."""
    state = openai_double.OpenAIDouble(tokens=20)
    for url in serve_in_thread(openai_double.build_app(state)):
        port = free_port()
        env = {
            **home.env,
            "ASSISTANT_PORT": str(port),
            "ASSISTANT_API_TOKEN": TOKEN,
            "ASSISTANT_BACKEND": "openai",
            "ASSISTANT_BACKEND_URL": f"{url}/v1",
            "ASSISTANT_DATA_DIR": str(paths.server_data),
            "ASSISTANT_RATE_LIMIT": "off",
        }
        proc = subprocess.Popen([sys.executable, "-m", "embedded_server"], env=env)
        base = f"http://127.0.0.1:{port}"

        def up(base: str = base) -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=1).is_success
            except httpx.HTTPError:
                return False

        try:
            wait_for(up, 30, "the assistant server")
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def chat(base: str, prompt: str) -> str:
    response = httpx.post(
        f"{base}/api/chat",
        json={"messages": [{"role": "user", "content": prompt}]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    events = [json.loads(line) for line in response.text.splitlines() if line]
    assert events[-1]["type"] == "done", events[-1]
    return str(events[0]["conversation_id"])


def tree_digest(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "backups" not in path.parts:
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_backup_while_the_server_writes(paths: AppPaths, home: Home, server: str) -> None:
    committed: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            committed.append(chat(server, f"question {len(committed)}"))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for(lambda: len(committed) >= 20, 30, "20 conversations")
        before = list(committed)  # each was answered, so committed, before the backup began
        info = service(paths, home).create()
        wait_for(lambda: len(committed) > len(before) + 5, 30, "writes after the backup")
    finally:
        stop.set()
        thread.join()
    extracted = paths.data / "check"
    read_archive(info.path, extract_to=extracted)
    db = extracted / "database" / "assistant.db"
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {row[0] for row in connection.execute("SELECT id FROM conversations")}
    assert set(before) <= ids


def tamper(
    archive: Path, target: Path, change: Callable[[list[tuple[tarfile.TarInfo, bytes]]], None]
) -> Path:
    members = []
    with archive.open("rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for info in tar:
                stream = tar.extractfile(info)
                members.append((info, stream.read() if stream else b""))
    change(members)
    with (
        target.open("wb") as out,
        zstandard.ZstdCompressor().stream_writer(out) as writer,
        tarfile.open(fileobj=writer, mode="w|") as tar,
    ):
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return target


def _member(
    name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info, data


def test_damaged_archives_are_refused_and_nothing_changes(
    paths: AppPaths, home: Home, server: str
) -> None:
    chat(server, "keep me")
    good = service(paths, home).create().path
    size = good.stat().st_size
    folder = paths.data / "backups" / "bad"  # (verify caches its verdicts in index.json there)
    folder.mkdir()

    def flipped(path: Path) -> Path:
        data = bytearray(good.read_bytes())
        for at in range(size // 2, size // 2 + 8):  # (one bit of zstd's code may be spare)
            data[at] ^= 0xFF
        path.write_bytes(bytes(data))
        return path

    def truncated(path: Path) -> Path:
        path.write_bytes(good.read_bytes()[: size - 200])
        return path

    def drop_profile(members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
        members[:] = [m for m in members if not m[0].name.startswith("config/profiles/")]

    def insert(
        extra: tuple[tarfile.TarInfo, bytes],
    ) -> Callable[[list[tuple[tarfile.TarInfo, bytes]]], None]:
        return lambda members: members.insert(0, extra)

    def manifest_changed(
        change: Callable[[dict[str, Any]], None],
    ) -> Callable[[list[tuple[tarfile.TarInfo, bytes]]], None]:
        def tampered(members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
            for index, (info, data) in enumerate(members):
                if info.name == "manifest.json":
                    manifest = json.loads(data)
                    change(manifest)
                    raw = json.dumps(manifest).encode()
                    info.size = len(raw)
                    members[index] = (info, raw)

        return tampered

    def newer_format(manifest: dict[str, Any]) -> None:
        manifest["format_version"] += 1

    def members_renamed(manifest: dict[str, Any]) -> None:  # a flipped byte, still JSON
        manifest["mefbers"] = manifest.pop("members")

    def unknown_format(manifest: dict[str, Any]) -> None:
        manifest["format_version"] = 0

    def duplicate(members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
        info, _ = next(m for m in members if m[0].name.startswith("config/profiles/"))
        twin = tarfile.TarInfo(info.name)
        twin.size = len(b"[runner]\nkind = 'evil'\n")
        members.insert(0, (twin, b"[runner]\nkind = 'evil'\n"))  # first, then the real one

    cases = {
        "newer format": tamper(good, folder / "newer.tar.zst", manifest_changed(newer_format)),
        "manifest lacks a field": tamper(
            good, folder / "renamed.tar.zst", manifest_changed(members_renamed)
        ),
        "unknown format": tamper(good, folder / "zero.tar.zst", manifest_changed(unknown_format)),
        "duplicate name": tamper(good, folder / "twice.tar.zst", duplicate),
        "hard link": tamper(
            good,
            folder / "hardlink.tar.zst",
            insert(_member("config/hard", b"", tarfile.LNKTYPE, "manifest.json")),
        ),
        "device": tamper(
            good, folder / "device.tar.zst", insert(_member("dev", b"", tarfile.CHRTYPE))
        ),
        "fifo": tamper(
            good, folder / "fifo.tar.zst", insert(_member("fifo", b"", tarfile.FIFOTYPE))
        ),
        "flipped bytes": flipped(folder / "flipped.tar.zst"),
        "truncated": truncated(folder / "truncated.tar.zst"),
        "missing member": tamper(good, folder / "missing.tar.zst", drop_profile),
        "member not in manifest": tamper(
            good, folder / "extra.tar.zst", insert(_member("config/profiles/evil.toml"))
        ),
        "path traversal": tamper(
            good, folder / "traversal.tar.zst", insert(_member("../../escaped.txt"))
        ),
        "absolute path": tamper(
            good, folder / "absolute.tar.zst", insert(_member("/tmp/escaped.txt"))
        ),
        "symlink": tamper(
            good,
            folder / "link.tar.zst",
            insert(_member("config/link", b"", tarfile.SYMTYPE, "/etc/passwd")),
        ),
    }
    before = tree_digest(paths.config, paths.data)
    for what, archive in cases.items():
        with pytest.raises(BackupError):
            service(paths, home).verify(archive)
        result = home.cli("backup", "verify", str(archive))
        assert result.returncode == 1, what
        reasons = {
            "newer format": "newer than this version reads",
            "manifest lacks a field": "lacks a field",
            "unknown format": "unknown format version 0",
            "duplicate name": "appears twice",
            "hard link": "is not a plain file",
            "device": "is not a plain file",
            "fifo": "is not a plain file",
        }
        assert reasons.get(what, "") in result.stderr, (what, result.stderr)
        result = home.cli("backup", "restore", str(archive), "--yes")
        assert result.returncode == 1 and "error:" in result.stderr, what
        assert tree_digest(paths.config, paths.data) == before, what
        assert not (paths.data.parent / "escaped.txt").exists()


def test_full_disk_leaves_no_partial_archive(paths: AppPaths, home: Home, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        if os.environ.get("ELITE_REQUIRE_SERVICES") == "1":
            pytest.fail("ELITE_REQUIRE_SERVICES=1 but mounting a small tmpfs needs root")
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(small)], check=True)
    try:
        older = service(paths, home).create(to=small).path  # fits: the profile alone
        paths.server_data.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(paths.server_data / "assistant.db") as connection:
            connection.execute("CREATE TABLE conversations (id TEXT)")
            connection.execute("CREATE TABLE messages (id TEXT, content BLOB)")
            connection.executemany(
                "INSERT INTO messages VALUES (?, ?)",
                [(str(i), os.urandom(4096)) for i in range(500)],  # 2 MB that does not compress
            )
        result = home.cli("backup", "create", "--to", str(small))
        assert result.returncode == 1 and "no space left" in result.stderr, result.stderr
        assert sorted(p.name for p in small.iterdir() if not p.name.startswith(".")) == sorted(
            [older.name, "index.json"]
        )
        assert [
            p
            for p in small.iterdir()
            if p.name.endswith(".partial") or p.name.startswith(".staging")
        ] == []
        assert home.cli("backup", "verify", str(older)).returncode == 0
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_restore_brings_back_and_a_failed_one_puts_everything_back(
    paths: AppPaths, home: Home, server: str
) -> None:
    first = chat(server, "the first conversation")
    store = ProfileStore(paths, home.env)
    store.set_value("default", "dashboard.cpu_percent", "70")
    archive = service(paths, home).create().path
    chat(server, "a later conversation")
    store.set_value("default", "dashboard.cpu_percent", "95")
    store.create("later")

    dry = home.cli("backup", "restore", str(archive), "--dry-run")
    assert dry.returncode == 0
    assert "2 conversations" in dry.stdout and "1 conversations" in dry.stdout
    assert "profile default: changed" in dry.stdout and "profile later: removed" in dry.stdout
    assert store.load("default").dashboard.cpu_percent == 95  # the dry run changed nothing

    # A restore that fails after the swap (the archive's database is damaged although its
    # checksums match): everything is put back.
    def garbage_db(members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
        from embedded_server.backups.manifest import Manifest, Member

        fake = b"not a database" * 100
        for i, (info, _data) in enumerate(members):
            if info.name == "database/assistant.db":
                members[i] = _member(info.name, fake)
        manifest = Manifest.from_json(members[-1][1])
        digest = hashlib.sha256(fake).hexdigest()
        manifest.members["database/assistant.db"] = Member(digest, len(fake))
        members[-1] = _member("manifest.json", manifest.to_json().encode())

    bad = tamper(archive, paths.data / "elite-backup-20000101-000000.tar.zst", garbage_db)
    before = tree_digest(paths.config, paths.server_data)
    failed = home.cli("backup", "restore", str(bad), "--yes")
    assert failed.returncode == 1 and "put back as it was" in failed.stderr, failed.stderr
    assert tree_digest(paths.config, paths.server_data) == before

    done = home.cli("backup", "restore", str(archive), "--yes")
    assert done.returncode == 0, done.stderr
    assert store.load("default").dashboard.cpu_percent == 70
    assert "later" not in store.names()
    with sqlite3.connect(paths.server_data / "assistant.db") as connection:
        assert [r[0] for r in connection.execute("SELECT id FROM conversations")] == [first]


def test_a_remote_profile_backs_up_profiles_and_secret_names_only(
    paths: AppPaths, home: Home, server: str
) -> None:
    chat(server, "a local conversation")
    store = ProfileStore(paths, home.env)
    store.set_value("default", "remote.url", "https://assistant.example.org")
    store.set_value("default", "stack.mode", "remote")
    archive = service(paths, home).create().path
    manifest = read_archive(archive)
    assert manifest.database == {"kind": "remote", "server": "https://assistant.example.org"}
    assert not any(name.startswith("database/") for name in manifest.members)
    assert "config/profiles/default.toml" in manifest.members

    database = paths.server_data / "assistant.db"
    before = tree_digest(paths.server_data)
    dry = home.cli("backup", "restore", str(archive), "--dry-run")
    assert dry.returncode == 0 and "database: kept as it is" in dry.stdout, dry.stdout
    done = home.cli("backup", "restore", str(archive), "--yes")
    assert done.returncode == 0, done.stderr
    assert database.exists() and tree_digest(paths.server_data) == before


def test_retention_and_the_lock(paths: AppPaths, home: Home) -> None:
    now = datetime(2026, 11, 26, 12, 0).astimezone()
    times = [now - timedelta(hours=6 * i) for i in range(12)]  # 4 a day over 3 days
    assert to_forget(times, keep_last=2, keep_daily=0) == set(range(2, 12))
    kept = set(range(12)) - to_forget(times, keep_last=1, keep_daily=3)
    assert len({times[i].date() for i in kept}) == 3 and 0 in kept
    assert to_forget(times, 0, 0) == set()

    backups = service(paths, home)
    with backups.archives._lock(), pytest.raises(BackupError, match="already running"):
        backups.create()


def test_no_secret_in_any_archive(paths: AppPaths, home: Home) -> None:
    secret = "sk-never-in-an-archive-1234567"
    home.env["OPENAI_API_KEY"] = secret
    (paths.logs / "supervisor.log").write_text("a line\n")
    result = home.cli("backup", "create", "--include-logs")
    assert result.returncode == 0, result.stderr
    archive = Path(result.stdout.strip())
    raw = zstandard.ZstdDecompressor().stream_reader(archive.open("rb")).read()
    assert secret.encode() not in raw
    assert b"OPENAI_API_KEY" in raw  # its name is listed, for the restore to ask for it
    assert b"logs/supervisor.log" in raw


def test_when_the_schedule_is_due() -> None:
    from elite_panel.backup.schedule import next_due
    from elite_panel.core.profiles import BackupSettings

    now = datetime(2026, 11, 26, 10, 0).astimezone()
    daily = BackupSettings(schedule="daily", daily_at="03:00")
    assert next_due(BackupSettings(), None, now) is None  # off
    assert next_due(daily, None, now) == now.replace(hour=3)  # today's slot missed: now
    assert next_due(daily, now.replace(hour=4), now) == now.replace(hour=3) + timedelta(days=1)
    late = now.replace(hour=2)  # before today's slot: yesterday's is the one to meet
    assert next_due(daily, late - timedelta(hours=1), late) == late.replace(hour=3)
    interval = BackupSettings(schedule="interval", every_hours=6)
    assert next_due(interval, None, now) == now
    assert next_due(interval, now - timedelta(hours=2), now) == now + timedelta(hours=4)


@pytest.mark.model
@pytest.mark.slow
def test_the_supervisor_backs_up_on_schedule(paths: AppPaths, home: Home) -> None:
    from elite_panel.backup.status import read_status

    home.env["ELITE_BACKUPS__SCHEDULE"] = "interval"
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    status = wait_for(lambda: read_status(paths), 60, "the scheduled backup's result")
    assert isinstance(status, dict) and status["ok"] is True, status
    listed = json.loads(home.cli("backup", "list", "--json").stdout)["backups"]
    assert [b["reason"] for b in listed] == ["scheduled"]
    assert listed[0]["path"] == status["path"]


def test_postgresql_database_backed_up_and_restored(paths: AppPaths, home: Home) -> None:
    """pg_dump into the archive, pg_restore back, against the test PostgreSQL server."""
    import asyncio

    from embedded_server.db.engine import Database
    from embedded_server.db.migrate import upgrade
    from embedded_server.db.store import ConversationStore, MessageDraft
    from tests.server.conftest import postgres_database, require_service

    admin = require_service("ELITE_TEST_POSTGRES_URL", "PostgreSQL server")
    with postgres_database(admin) as url:

        async def setup() -> str:
            db = Database(url)
            await upgrade(db)
            store = ConversationStore(db)
            kept = await store.add_turn(None, "kept", [MessageDraft("user", "hello")])
            await db.dispose()
            return kept

        async def conversations() -> list[str]:
            db = Database(url)
            found, _total = await ConversationStore(db).search()
            await db.dispose()
            return [c.id for c in found]

        async def drop(conversation_id: str) -> None:
            db = Database(url)
            await ConversationStore(db).delete(conversation_id)
            await db.dispose()

        kept = asyncio.run(setup())
        home.env["ASSISTANT_DATABASE_URL"] = url
        made = home.cli("backup", "create")
        assert made.returncode == 0, made.stderr
        archive = Path(made.stdout.strip())
        asyncio.run(drop(kept))
        assert asyncio.run(conversations()) == []
        dry = home.cli("backup", "restore", str(archive), "--dry-run")
        assert "1 conversations, 1 messages" in dry.stdout, dry.stdout
        done = home.cli("backup", "restore", str(archive), "--yes")
        assert done.returncode == 0, done.stderr
        assert asyncio.run(conversations()) == [kept]


def test_prune_by_command_and_after_each_backup(paths: AppPaths, home: Home) -> None:
    """Five older backups (a day apart) beside a new one: ``backup prune`` applies the
    policy it is given; each new backup prunes with the profile's."""
    made = service(paths, home).create().path
    folder = made.parent
    for day in range(1, 6):
        older = datetime.now() - timedelta(days=day)
        shutil.copyfile(made, folder / f"{PREFIX}{older.strftime(STAMP)}{SUFFIX}")
    assert len(service(paths, home).backups()) == 6

    pruned = home.cli("backup", "prune", "--keep-last", "2", "--keep-daily", "4")
    assert pruned.returncode == 0, pruned.stderr
    kept = [b.path.name for b in service(paths, home).backups()]
    assert len(kept) == 4 and made.name in kept  # the newest of each of the last 4 days
    assert "2 deleted, 4 kept" in pruned.stdout

    home.env.update(ELITE_BACKUPS__KEEP_LAST="2", ELITE_BACKUPS__KEEP_DAILY="0")
    created = home.cli("backup", "create")
    assert created.returncode == 0, created.stderr
    kept = [b.path.name for b in service(paths, home).backups()]
    assert len(kept) == 2 and made.name in kept  # the new one and the one before it


def test_project_indexes_are_backed_up_and_restored(paths: AppPaths, home: Home) -> None:
    import numpy as np

    from elite_panel.projects.chunks import Chunk
    from elite_panel.projects.registry import ProjectRegistry
    from elite_panel.projects.store import FileState, ProjectIndex

    code = home.root / "code"
    code.mkdir()
    registry = ProjectRegistry(paths)
    registry.add(code, "app")
    index = ProjectIndex(registry.index_path("app"))
    piece = Chunk("main.py", 1, 2, "main", "def main():\n    return 42")
    index.replace_file("main.py", FileState(1, 2, "d"), [piece], np.ones((1, 4), np.float32))
    result = home.cli("backup", "create")  # (the index open, its log not yet folded in)
    assert result.returncode == 0, result.stderr
    index.close()
    archive = Path(result.stdout.strip())
    raw = zstandard.ZstdDecompressor().stream_reader(archive.open("rb")).read()
    assert b"projects/app/index.sqlite" in raw and b"config/projects.json" in raw

    registry.remove("app")  # forgotten, its index deleted
    assert registry.projects() == [] and not registry.index_path("app").exists()
    done = home.cli("backup", "restore", str(archive), "--yes")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in registry.projects()] == ["app"]
    restored = ProjectIndex(registry.index_path("app"))
    assert restored.keyword("main", 5) and restored.files()["main.py"].digest == "d"
    restored.close()


def test_backups_to_a_bucket_and_back_from_the_command_line(paths: AppPaths, home: Home) -> None:
    """``backup create --to s3://…``, ``list --from``, ``restore NAME --from``, against
    moto's S3 server (a double)."""
    from tests.fakes.s3_double import CREDENTIALS, s3_double

    with s3_double("panel-backups") as endpoint:
        home.env.update(CREDENTIALS, AWS_SECRET_ACCESS_KEY="x", AWS_ENDPOINT_URL=endpoint)
        made = home.cli("backup", "create", "--to", "s3://panel-backups/laptop")
        assert made.returncode == 0, made.stderr
        archive = Path(made.stdout.splitlines()[0])
        assert f"read back: s3://panel-backups/laptop/{archive.name}" in made.stdout
        listed = home.cli("backup", "list", "--from", "s3://panel-backups/laptop")
        assert listed.stdout.split()[0] == archive.name
        archive.unlink()  # this machine's copy is gone
        plan = home.cli(
            "backup", "restore", archive.name, "--from", "s3://panel-backups/laptop", "--dry-run"
        )
        assert plan.returncode == 0, plan.stderr
        assert archive.is_file()  # fetched into the backups folder, verified, planned
        missing = home.cli("backup", "list", "--from", "s3://no-such-bucket")
        assert missing.returncode != 0 and "NoSuchBucket" in missing.stderr
        assert "Traceback" not in missing.stderr


def test_a_backups_bucket_keeps_what_the_retention_keeps(
    paths: AppPaths, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``backups.offsite`` with the newest one kept: after each backup the bucket holds
    that backup alone (uploaded first, then pruned with the folder)."""
    import boto3

    from tests.fakes.s3_double import CREDENTIALS, s3_double

    with s3_double("panel-backups") as endpoint:
        environ = {**CREDENTIALS, "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": endpoint}
        for name, value in environ.items():  # (boto3 reads this process's environment)
            monkeypatch.setenv(name, value)
        store = ProfileStore(paths, home.env)
        for key, value in (
            ("backups.offsite", '"s3://panel-backups/laptop"'),
            ("backups.keep_last", "1"),
            ("backups.keep_daily", "0"),
        ):
            store.set_value("default", key, value)
        backups = BackupService(paths, store.load("default"), home.env)
        for _ in range(2):
            made = backups.create()
            listed = boto3.client("s3").list_objects_v2(Bucket="panel-backups")
            assert [item["Key"] for item in listed["Contents"]] == [f"laptop/{made.name}"]
