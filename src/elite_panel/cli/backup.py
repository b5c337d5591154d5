"""``elite-panel backup ...``: create, list, verify, restore and prune backups."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elite_panel.cli.console import err, out, out_json
from elite_panel.core.paths import AppPaths
from elite_panel.monitor.report import rate_and_time_left

if TYPE_CHECKING:
    from elite_panel.core.profiles import Profile  # (pydantic: not at start-up)


def add_parsers(commands: Any) -> None:
    backup = commands.add_parser("backup", help="verified backups of conversations and profiles")
    action = backup.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = action.add_parser("create", help="back up now; prints the archive's path")
    create.add_argument("--include-logs", action="store_true", help="add the log files")
    create.add_argument(
        "--to",
        metavar="DIR|s3://BUCKET/PREFIX",
        help="write the archive to DIR (no pruning there), or also upload it to a bucket",
    )
    listing = action.add_parser("list", help="the backups, newest first")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--from", dest="source", metavar="s3://BUCKET/PREFIX", help="a bucket's")
    verify = action.add_parser("verify", help="check every checksum (exit 0 only when intact)")
    verify.add_argument("archive", type=Path)
    restore = action.add_parser("restore", help="restore an archive (asks first)")
    restore.add_argument("archive", type=Path, help="a file, or with --from an archive's name")
    restore.add_argument("--from", dest="source", metavar="s3://BUCKET/PREFIX", help="fetch it")
    restore.add_argument("--dry-run", action="store_true", help="only say what would change")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    prune = action.add_parser("prune", help="delete the backups the retention policy drops")
    prune.add_argument("--keep-last", type=int, help="default: backups.keep_last")
    prune.add_argument("--keep-daily", type=int, help="default: backups.keep_daily")


def run_backup(args: argparse.Namespace, paths: AppPaths, profile: Profile) -> int:
    from elite_panel.backup.service import BackupService

    service = BackupService(paths, profile)
    if args.action == "create":
        bucket = args.to if args.to and args.to.startswith("s3://") else None
        folder = Path(args.to) if args.to and not bucket else None
        info = service.create(include_logs=args.include_logs or None, to=folder, progress=_bar())
        err("")
        out(f"{info.path}\n")
        if bucket:
            out(f"uploaded and read back: {service.upload(info, bucket, _bar())}\n")
            err("")
        return 0
    if args.action == "list" and args.source:
        remote = service.remote_backups(args.source)
        if args.json:
            listed = [
                {"name": r.name, "size": r.size, "created": r.created.isoformat()} for r in remote
            ]
            out_json({"backups": listed})
            return 0
        for r in remote:
            out(f"{r.name}  {r.size / 1e6:8.1f} MB  {args.source}\n")
        return 0
    if args.action == "list":
        backups = service.backups()
        if args.json:
            out_json({"backups": [b.to_json() for b in backups]})
            return 0
        for b in backups:
            verified = "verified" if b.summary.get("verified") else "not verified"
            if b.summary.get("error"):
                verified = "DAMAGED"
            talks = b.summary.get("conversations")
            what = f"{talks} conversations" if talks is not None else "contents unknown"
            out(f"{b.name}  {b.size / 1e6:8.1f} MB  {what:<22} {verified}\n")
        return 0
    if args.action == "verify":
        manifest = service.verify(args.archive, progress=_bar())
        err("")
        out(f"{args.archive}: intact ({len(manifest.members)} members, {manifest.created})\n")
        return 0
    if args.action == "prune":
        removed = service.prune(args.keep_last, args.keep_daily)
        for path in removed:
            out(f"deleted {path.name}\n")
        out(f"{len(removed)} deleted, {len(service.backups())} kept\n")
        return 0
    return _restore(args, paths, service)


def _restore(args: argparse.Namespace, paths: AppPaths, service: Any) -> int:
    from elite_panel.backup.restore import Restorer

    restorer = Restorer(service)
    archive = service.fetch(args.source, args.archive.name) if args.source else args.archive
    plan = restorer.plan(archive, progress=_bar())
    err("")
    out(plan.summary() + "\n")
    if args.dry_run:
        restorer.discard(plan)
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            restorer.discard(plan)
            err("error: not restoring without confirmation: add --yes")
            return 1
        if input("Restore? [y/N] ").strip().lower() not in ("y", "yes"):
            restorer.discard(plan)
            out("nothing changed\n")
            return 1
    stack = _StackControl(paths)
    safety = restorer.apply(plan, stack.stop, stack.start)
    out(f"restored; the state before is in {safety.path}\n")
    return 0


class _StackControl:
    """Stops and starts services through the supervisor, when one runs."""

    def __init__(self, paths: AppPaths) -> None:
        self.paths = paths

    def stop(self, names: list[str]) -> list[str]:
        import asyncio

        from elite_panel.stack.control import ControlClient

        return asyncio.run(ControlClient(self.paths).stop_running(names))

    def start(self, names: list[str]) -> None:
        import asyncio

        from elite_panel.core.profile_store import ProfileStore
        from elite_panel.stack.control import ControlClient

        if names:
            store = ProfileStore(self.paths)  # the restored active profile
            profile = store.load(store.active()).model_dump(mode="json")
            asyncio.run(ControlClient(self.paths).start_services(names, profile))


def _bar() -> Any:
    """A progress line on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        return None

    started = time.monotonic()

    def show(done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(share * 30)
        rate = rate_and_time_left(done, total, time.monotonic() - started)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}  {rate}  ")
        sys.stderr.flush()

    return show
