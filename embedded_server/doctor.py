"""``elite-assistant-server doctor [--json]``: what the deployment guide's troubleshooting
walks through, one check a line, each failure with what to do; the exit status says
whether everything passed. It changes nothing (the database is not migrated).

Checks: the settings, the port, the database (reachable, at this version's schema, its
clock against this machine's), Redis (when configured), each runner and its models, and
the free space where the data and the backups go.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

LOW_SPACE = 1 << 30  # under 1 GB free: a warning
NO_SPACE = 100 << 20  # under 100 MB: a failure
CLOCK_SKEW_S = 5.0
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``ok``, ``warn`` or ``fail``, what was found, what to do."""

    name: str
    status: str
    detail: str
    advice: str = ""


def run() -> list[Check]:
    """Every check, in order (later ones are left out when the settings are invalid)."""
    from embedded_server.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        return [Check("settings", "fail", problems, "fix the ASSISTANT_* variables named")]
    except ValueError as exc:  # a secret's file (ASSISTANT_*_FILE)
        return [Check("settings", "fail", str(exc), "fix the variable named")]
    checks = [Check("settings", "ok", f"valid ({len(settings.runner_specs())} runner(s))")]
    checks.append(_port(settings.host, settings.port))
    checks += asyncio.run(_services(settings))
    checks += _space(settings)
    return checks


def _port(host: str, port: int) -> Check:
    """Free, or held by an assistant server answering /health."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            pass
        else:
            return Check("port", "ok", f"{host}:{port} is free")
    import httpx

    try:
        answer = httpx.get(f"http://{_connect_host(host)}:{port}/health", timeout=TIMEOUT_S)
        ours = answer.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError, AttributeError):
        ours = False
    if ours:
        return Check("port", "ok", f"{host}:{port} is this server's (it answers /health)")
    return Check(
        "port",
        "fail",
        f"{host}:{port} is taken by another program",
        "stop it, or set ASSISTANT_PORT to a free port",
    )


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


async def _services(settings: Any) -> list[Check]:
    checks = [await _database(settings)]
    if settings.redis_url.get_secret_value():
        checks.append(await _redis(settings.redis_url.get_secret_value()))
    checks += await _runners(settings)
    return checks


async def _timed(name: str, probe: Callable[[], Awaitable[Check]]) -> Check:
    try:
        async with asyncio.timeout(TIMEOUT_S):
            return await probe()
    except TimeoutError:
        return Check(name, "fail", f"no answer within {TIMEOUT_S:g} s", "is it up and reachable?")


async def _database(settings: Any) -> Check:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from embedded_server.db.engine import Database
    from embedded_server.db.migrate import alembic_config

    url = make_url(settings.sqlalchemy_url())
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return Check(
            "database", "warn", f"no database yet at {url.database}", "made at the first start"
        )  # (looked at, not created)
    database = Database(settings.sqlalchemy_url())

    async def probe() -> Check:
        def look(connection: Any) -> tuple[str | None, float | None]:
            current = MigrationContext.configure(connection).get_current_revision()
            now = None
            if connection.dialect.name == "postgresql":
                now = connection.execute(text("SELECT extract(epoch from now())")).scalar()
            return current, float(now) if now is not None else None

        try:
            current, server_now = await database.run_on_connection(look)
        except Exception as exc:  # drivers raise many kinds
            return Check(
                "database",
                "fail",
                f"{database.where}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                "check ASSISTANT_DATABASE_URL, and that the database server runs",
            )
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        if current != head:
            return Check(
                "database",
                "warn",
                f"{database.where} is at schema {current or 'none'}, this version's is {head}",
                "the server migrates at its start: `elite-assistant-server migrate`",
            )
        if server_now is not None and abs(server_now - time.time()) > CLOCK_SKEW_S:
            skew = server_now - time.time()
            return Check(
                "database",
                "warn",
                f"{database.where}: migrated; its clock is {skew:+.0f} s from this machine's",
                "synchronise the clocks (NTP): limits and usage count by the minute and day",
            )
        return Check("database", "ok", f"{database.where}: reachable, migrated ({head})")

    try:
        return await _timed("database", probe)
    finally:
        await database.dispose()


async def _redis(url: str) -> Check:
    """Redis (or a Redis Cluster: every node) through the client the server itself uses."""
    from embedded_server.ratelimit import RateLimiter

    limiter = RateLimiter("", url)
    what = "every node of the cluster answers" if "+cluster://" in url else "answers PING"

    async def probe() -> Check:
        try:
            answered = await limiter.check()
        except Exception as exc:
            answered, why = False, f"{type(exc).__name__}: {exc}"
        else:
            why = "it does not answer"
        if not answered:
            return Check("redis", "fail", why, "check ASSISTANT_REDIS_URL")
        return Check("redis", "ok", what)

    return await _timed("redis", probe)


async def _runners(settings: Any) -> list[Check]:
    from embedded_server.backends import make_runner
    from embedded_server.backends.base import BackendError

    checks = []
    for spec in settings.runner_specs():
        name = f"runner {spec.name}"
        backend = make_runner(spec, settings)

        async def probe(backend: Any = backend, name: str = name) -> Check:
            try:
                models = await backend.list_models()
            except BackendError as exc:
                return Check(name, "fail", str(exc), "start it, or fix its URL (ASSISTANT_RUNNERS)")
            if not models:
                return Check(name, "warn", "answers, with no model", "pull or import a model")
            names = ", ".join(m.name for m in models[:5]) + (" …" if len(models) > 5 else "")
            return Check(name, "ok", f"answers; {len(models)} model(s): {names}")

        try:
            checks.append(await _timed(name, probe))
        finally:
            await backend.aclose()
    return checks


def _space(settings: Any) -> list[Check]:
    """Free space where the data and the backups are written."""
    checks = []
    places = {"data": Path(settings.data_dir)}
    if settings.backup_dir:
        places["backups"] = Path(settings.backup_dir)
    for what, folder in places.items():
        existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
        free = shutil.disk_usage(existing).free
        status = "fail" if free < NO_SPACE else "warn" if free < LOW_SPACE else "ok"
        advice = "" if status == "ok" else "free some space (old backups: `backup prune`)"
        checks.append(
            Check(f"space ({what})", status, f"{free / 1e9:.1f} GB free in {folder}", advice)
        )
    return checks


def report(checks: list[Check], as_json: bool) -> int:
    """Print the checks; 0 when none failed."""
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        payload = {"ok": not failed, "checks": [asdict(c) for c in checks]}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        for check in checks:
            advice = f" — {check.advice}" if check.advice else ""
            sys.stdout.write(f"{check.status:<4}  {check.name:<18} {check.detail}{advice}\n")
    return 1 if failed else 0
