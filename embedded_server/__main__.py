"""``python -m embedded_server`` and ``elite-assistant-server``: validate the settings
(environment variables), then serve with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from embedded_server import __version__

if TYPE_CHECKING:
    from embedded_server.config import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="elite-assistant-server",
        description="Serve the assistant API; configured by ASSISTANT_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)

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
    configure(settings.log_level, settings.log_format)
    try:  # a damaged database is one clear line, before the server starts
        asyncio.run(_migrate(settings))
    except DatabaseUnusable as exc:
        sys.stderr.write(f"embedded_server: {exc}\n")
        return 2
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=logging_config(settings.log_level, settings.log_format),
        access_log=False,
    )
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
