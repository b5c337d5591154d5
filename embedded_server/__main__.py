"""``python -m embedded_server`` and ``elite-assistant-server``: validate the settings
(environment variables), migrate the database, then serve with uvicorn (``serve``, the
default); or only ``migrate``; or manage the API keys (``keys create|update NAME
[--rate-limit SPEC | --rpm N] [--models M,..] [--tpm N] [--tokens-per-day N] [--parallel N]
[--max-tokens N]``, ``keys list``, ``keys limit NAME SPEC``, ``keys revoke NAME``) in the
database the settings name; or back that database up (``backup
create|list|verify|restore|prune``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from embedded_server import __version__

if TYPE_CHECKING:
    from embedded_server.config import Settings
    from embedded_server.db.engine import Database


def build_parser() -> argparse.ArgumentParser:
    """The server's command line: serve (the default), migrate, keys, backup."""
    parser = argparse.ArgumentParser(
        prog="elite-assistant-server",
        description="Serve the assistant API; configured by ASSISTANT_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="migrate the database, then serve (the default)")
    commands.add_parser("migrate", help="bring the database to the newest schema, then exit")
    doctor = commands.add_parser(
        "doctor", help="check the settings, port, database, Redis, runners and disk space"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    keys = commands.add_parser("keys", help="API keys: create (shown once), list, revoke")
    key_actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = key_actions.add_parser("create", help="a new key; prints it once")
    update = key_actions.add_parser("update", help="change a key's limits (the others stay)")
    for action in (create, update):
        action.add_argument("name")
        _limit_options(action)
    key_actions.add_parser("list", help="name, prefix, created, last used, requests, limits")
    usage = key_actions.add_parser("usage", help="tokens and requests, by day and model")
    usage.add_argument("name", nargs="?", help="one key (default: every caller)")
    usage.add_argument("--since", default="7d", help="7d (the default), 30d, or a date")
    usage.add_argument("--json", action="store_true", help="machine-readable output")
    limit = key_actions.add_parser("limit", help="set a key's rate limit (or 'default', 'off')")
    limit.add_argument("name")
    limit.add_argument("spec", metavar="SPEC")
    key_actions.add_parser("revoke", help="refused at once on every replica").add_argument("name")
    backup = commands.add_parser("backup", help="verified backups of the server's database")
    backup_actions = backup.add_subparsers(dest="action", metavar="ACTION", required=True)
    bucket = "s3://BUCKET/PREFIX"
    create = backup_actions.add_parser("create", help="a new archive in ASSISTANT_BACKUP_DIR")
    create.add_argument(
        "--to", metavar=bucket, help="also upload it there (default ASSISTANT_BACKUP_TO)"
    )
    listing = backup_actions.add_parser("list", help="the archives, newest first")
    listing.add_argument("--from", dest="source", metavar=bucket, help="those in a bucket")
    backup_actions.add_parser("verify", help="check every member").add_argument("archive")
    restore = backup_actions.add_parser(
        "restore", help="replace the database by an archive's (a backup of it is made first)"
    )
    restore.add_argument("archive", help="a file, or with --from an archive's name")
    restore.add_argument("--from", dest="source", metavar=bucket, help="fetch it from a bucket")
    restore.add_argument("--yes", action="store_true", help="do it (the database is replaced)")
    prune = backup_actions.add_parser("prune", help="delete what the retention does not keep")
    prune.add_argument("--keep-last", type=int, help="default ASSISTANT_BACKUP_KEEP_LAST (10)")
    prune.add_argument("--keep-daily", type=int, help="default ASSISTANT_BACKUP_KEEP_DAILY (7)")
    prune.add_argument(
        "--to", metavar=bucket, help="the bucket's too (default ASSISTANT_BACKUP_TO)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "doctor":  # (before the settings stop the start, and no migration)
        from embedded_server import doctor

        return doctor.report(doctor.run(), args.json)

    import uvicorn

    from embedded_server.app import create_app
    from embedded_server.config import Settings
    from embedded_server.db.migrate import DatabaseUnusable
    from embedded_server.logging_setup import configure, logging_config

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        sys.stderr.write(f"embedded_server: invalid settings: {problems}\n")
        return 2
    except ValueError as exc:  # a secret's file (ASSISTANT_*_FILE)
        sys.stderr.write(f"embedded_server: invalid settings: {exc}\n")
        return 2
    serving = args.command in (None, "serve")
    configure(settings.log_level if serving else "WARNING", settings.log_format)
    try:  # a damaged database is one clear line, before the server starts
        asyncio.run(_migrate(settings))
    except DatabaseUnusable as exc:
        sys.stderr.write(f"embedded_server: {exc}\n")
        return 2
    if args.command == "migrate":
        return 0
    if args.command == "keys":
        return asyncio.run(_keys(settings, args))
    if args.command == "backup":
        return _backup(settings, args)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=logging_config(settings.log_level, settings.log_format),
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For only from ASSISTANT_TRUSTED_PROXIES (the app's)
    )
    sockets = None
    if settings.metrics_port:  # one server, two sockets: the app tells them apart
        metrics = uvicorn.Config(config.app, host=settings.host, port=settings.metrics_port)
        sockets = [config.bind_socket(), metrics.bind_socket()]
    uvicorn.Server(config).run(sockets=sockets)
    return 0


def _limit_options(parser: argparse.ArgumentParser) -> None:
    """A key's limits (unset: the server's ASSISTANT_KEY_DEFAULTS; 0: none; "default":
    back to the server's)."""

    def limit(value: str) -> int | str:
        if value == "default":
            return value
        number = int(value)
        if number < 0:
            raise ValueError(value)
        return number

    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--rate-limit", metavar="SPEC", help="requests, e.g. 600/minute;5000/hour")
    rate.add_argument("--rpm", type=int, metavar="N", help="requests a minute")
    parser.add_argument(
        "--models", metavar="M,..", help="the models it may use (empty: any; 'default')"
    )
    for option, said in (
        ("--tpm", "tokens a minute"),
        ("--tokens-per-day", "tokens a day"),
        ("--parallel", "answers at once"),
        ("--max-tokens", "the longest answer, in tokens"),
    ):
        parser.add_argument(option, type=limit, metavar="N", help=f"{said} (0: no limit)")


def _limit_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The limits given on the command line, as ``KeyStore.update`` takes them."""
    changes: dict[str, Any] = {}
    if args.rate_limit is not None or args.rpm is not None:
        changes["rate_limit"] = args.rate_limit or f"{args.rpm}/minute"
    if args.models is not None:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        changes["models"] = None if models == ["default"] else models
    for field in ("tpm", "tokens_per_day", "parallel", "max_tokens"):
        value = getattr(args, field)
        if value is not None:
            changes[field] = None if value == "default" else value
    return changes


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from embedded_server.db.engine import Database
    from embedded_server.db.keys import KeyRefused, KeyStore
    from embedded_server.key_limits import KeyLimits

    database = Database(settings.sqlalchemy_url())
    store = KeyStore(database)
    try:
        if args.action == "create":
            changes = _limit_changes(args)
            rate_limit = changes.pop("rate_limit", None)
            key = await store.create(args.name, rate_limit, KeyLimits(**changes))
            sys.stdout.write(f"{key}\n")
            sys.stderr.write(f"key {args.name!r} created: it is shown this once, keep it\n")
        elif args.action == "usage":
            return await _usage(database, args)
        elif args.action == "update":
            await store.update(args.name, _limit_changes(args))
            sys.stdout.write(f"key {args.name!r} updated\n")
        elif args.action == "revoke":
            await store.revoke(args.name)
            sys.stdout.write(f"key {args.name!r} revoked\n")
        elif args.action == "limit":
            await store.set_limit(args.name, args.spec)
            sys.stdout.write(f"key {args.name!r}: rate limit {args.spec}\n")
        else:
            header = ("NAME", "PREFIX", "CREATED", "LAST USED", "REQUESTS", "LIMIT", "LIMITS")
            rows = [(*header, "STATE")]
            for info in await store.list():
                used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "-"
                created = info.created_at.isoformat(timespec="seconds")
                state = "revoked" if info.revoked else "active"
                limit = "default" if info.rate_limit is None else info.rate_limit or "off"
                own = info.limits.model_dump(exclude_none=True)
                limits = " ".join(
                    f"{k}={','.join(v) if isinstance(v, tuple) else v}" for k, v in own.items()
                )
                rows.append(
                    (
                        info.name,
                        info.prefix + "…",
                        created,
                        used,
                        str(info.requests),
                        limit,
                        limits or "default",
                        state,
                    )
                )
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            for row in rows:
                sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
                sys.stdout.write("\n")
    except KeyRefused as exc:
        sys.stderr.write(f"elite-assistant-server: {exc}\n")
        return 1
    finally:
        await database.dispose()
    return 0


async def _usage(database: Database, args: argparse.Namespace) -> int:
    from embedded_server.db.usage import UsageStore, days_since, totals

    try:
        days = days_since(args.since)
    except ValueError as exc:
        sys.stderr.write(f"elite-assistant-server: --since: {exc}\n")
        return 2
    rows = await UsageStore(database).report(args.name, days)
    if args.json:
        report = {"key": args.name, "since": args.since, "days": [r.public() for r in rows]}
        sys.stdout.write(json.dumps({**report, "total": totals(rows)}, indent=2) + "\n")
        return 0
    table: list[tuple[str, ...]] = [
        ("DAY", "KEY", "MODEL", "REQUESTS", "ERRORS", "PROMPT", "ANSWER")
    ]
    for r in rows:
        counts = (r.requests, r.errors, r.prompt_tokens, r.completion_tokens)
        table.append((r.day, r.key, r.model, *(f"{n:,}" for n in counts)))
    total = totals(rows)
    table.append(("total", "", "", *(f"{n:,}" for n in total.values())))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + "\n")
    return 0


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from embedded_server.backups import BackupFailed
    from embedded_server.backups.offsite import Bucket
    from embedded_server.backups.server import ServerBackups

    folder = settings.backup_dir or settings.data_dir / "backups"
    backups = ServerBackups(settings.sqlalchemy_url(), folder)
    out = sys.stdout.write
    try:
        target = getattr(args, "to", None) or settings.backup_to
        offsite = Bucket(target) if target else None
        if args.action == "create":
            made = backups.create()
            facts = made.summary
            out(
                f"{made.path}  {made.size} bytes  {facts.get('conversations')} conversations, "
                f"{facts.get('messages')} messages\n"
            )
            if offsite:
                out(f"uploaded and read back: {offsite.upload(made.path)}\n")
        elif args.action == "list" and args.source:
            for remote in Bucket(args.source).backups():
                out(f"{remote.name}  {remote.size:>10}  {args.source.rstrip('/')}\n")
        elif args.action == "list":
            for info in backups.archives.backups():
                facts = info.summary
                verified = "verified" if facts.get("verified") else facts.get("error") or "-"
                out(
                    f"{info.name}  {info.size:>10}  {facts.get('conversations')} conversations"
                    f"  {facts.get('reason', '-')}  {verified}\n"
                )
        elif args.action == "verify":
            manifest = backups.archives.verify(Path(args.archive))
            out(f"ok: {len(manifest.members)} member(s) match the manifest of {args.archive}\n")
        elif args.action == "restore":
            archive = Path(args.archive)
            if args.source:  # fetched into the backups folder, then as any archive
                archive = Bucket(args.source).download(args.archive, folder)
                out(f"fetched {archive}\n")
            if not args.yes:
                manifest = backups.archives.verify(archive)
                sys.stderr.write(
                    f"{archive} is intact ({manifest.database.get('conversations')} "
                    f"conversations, made {manifest.created}); restoring replaces the database "
                    "(a backup of it is made first): run again with --yes. Stop the server "
                    "(every replica) first.\n"
                )
                return 1
            safety = backups.restore(archive)
            out(f"restored {archive}; the database before it: {safety.path}\n")
        else:
            last = settings.backup_keep_last if args.keep_last is None else args.keep_last
            daily = settings.backup_keep_daily if args.keep_daily is None else args.keep_daily
            for path in backups.archives.prune(last, daily):
                out(f"removed {path.name}\n")
            if offsite:
                for name in offsite.prune(last, daily):
                    out(f"removed {offsite.url}/{name}\n")
    except (BackupFailed, OSError, ValueError) as exc:  # ValueError: a bucket's URL
        sys.stderr.write(f"elite-assistant-server: {exc}\n")
        return 1
    return 0


async def _migrate(settings: Settings) -> None:
    from embedded_server.db.engine import Database
    from embedded_server.db.migrate import upgrade

    database = Database(settings.sqlalchemy_url())
    try:
        await upgrade(database)
    finally:
        await database.dispose()


if __name__ == "__main__":
    sys.exit(main())
