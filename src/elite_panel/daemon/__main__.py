"""The supervisor daemon's entry point and composition root (see :mod:`elite_panel.daemon`).

Shutting down (``stack down``, idle, SIGTERM) stops the services first, then ends the
daemon's tasks; if that does not finish within :data:`SHUTDOWN_LIMIT_S`, or a second
SIGTERM comes, the process exits anyway: a stuck supervisor must never hold the home's
lock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import logging.handlers
import os
import signal
import sys
import threading
from typing import IO

from elite_panel.backup.schedule import run_schedule
from elite_panel.core import redaction
from elite_panel.core.paths import AppPaths
from elite_panel.daemon.control_server import ControlServer
from elite_panel.monitor.collector import Collector
from elite_panel.monitor.sampling import SamplingLoop
from elite_panel.stack.service_log import LOG_BACKUPS, LOG_MAX_BYTES
from elite_panel.stack.supervisor import Supervisor

log = logging.getLogger("elite_panel.daemon")

SHUTDOWN_LIMIT_S = 5.0  # after the services have stopped
EXIT_LOCKED = 3  # another supervisor holds this home's lock


def _setup_logging(paths: AppPaths) -> None:
    handler = logging.handlers.RotatingFileHandler(
        paths.logs / "supervisor.log",
        maxBytes=LOG_MAX_BYTES,
        backupCount=LOG_BACKUPS,
        encoding="utf-8",
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _exit_anyway(reason: str) -> None:
    """End the process now: the services are stopped, only its own tasks were left."""
    log.error("%s: exiting anyway", reason)
    logging.shutdown()
    os._exit(1)


def _watchdog(limit_s: float) -> threading.Timer:
    timer = threading.Timer(
        limit_s, _exit_anyway, args=(f"the shutdown did not finish within {limit_s:.0f} s",)
    )
    timer.daemon = True
    timer.start()
    return timer


async def _main(paths: AppPaths) -> int:
    supervisor = Supervisor(paths)
    redaction.install()
    sampling = SamplingLoop(Collector(paths.data), supervisor.statuses)
    server = ControlServer(supervisor, paths, sampling)
    tasks = [
        asyncio.create_task(server.sample_while_up(), name="sample-while-up"),
        asyncio.create_task(
            run_schedule(
                paths, lambda: supervisor.profile, lambda: supervisor.active, supervisor.watch()
            ),
            name="backup-schedule",
        ),
    ]
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if server.stopped.is_set():  # a second SIGTERM: the shutdown is taking too long
            _exit_anyway("asked again to stop")
        server.stopped.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await supervisor.adopt_recorded()
    try:
        await server.serve()
    finally:
        await supervisor.close()  # the services first: nothing may outlive the supervisor
        server.stop_exporter()
        _watchdog(SHUTDOWN_LIMIT_S)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sampling.collector.aclose()
    log.info("supervisor %d stopped", os.getpid())
    return 0


def _hold_lock(paths: AppPaths) -> IO[str] | None:
    """This home's supervisor lock with our pid in it, or None when another holds it."""
    lock = open(paths.daemon_lock, "a+")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elite-panel-supervisor")
    parser.parse_args(argv)
    paths = AppPaths.from_env().ensure()
    lock = _hold_lock(paths)
    if lock is None:
        return EXIT_LOCKED  # the client reaches that one, or says it is stuck
    _setup_logging(paths)
    try:
        return asyncio.run(_main(paths))
    except Exception:
        log.exception("supervisor crashed")
        return 1
    finally:
        with contextlib.suppress(OSError):
            lock.close()


if __name__ == "__main__":
    sys.exit(main())
