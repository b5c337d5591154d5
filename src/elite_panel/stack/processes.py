"""Spawning, watching and ending service processes: the one place that touches the OS.

Each service runs in its own session (so its process group can be signalled as a whole)
and, on Linux, gets ``PR_SET_PDEATHSIG=SIGTERM`` so that it stops if the supervisor is
killed with SIGKILL instead of running on unsupervised.  Processes we did not spawn (adopted
from a previous supervisor) are watched through a pidfd, which wakes the event loop when
they exit: no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import psutil

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 10.0


@dataclass
class ProcessHandle:
    """A running service process, spawned by us or adopted.

    Attributes:
        pid: the process id; also its process group id (each service leads its own group).
        create_time: the kernel's start time of the process (a pid alone can be reused).
        stdout: the merged stdout/stderr stream of a spawned child; ``None`` when adopted.
    """

    pid: int
    create_time: float
    stdout: asyncio.StreamReader | None
    _wait: Callable[[], Awaitable[int | None]] = field(repr=False)
    returncode: int | None = None
    exited: bool = False
    stop: Callable[[float], Awaitable[None]] | None = field(default=None, repr=False)

    async def wait(self) -> int | None:
        """Wait for the exit; the exit code, or ``None`` when it is unknown (adopted)."""
        if not self.exited:
            self.returncode = await self._wait()
            self.exited = True
        return self.returncode


def _pdeathsig_setter() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl

    def set_pdeathsig() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_pdeathsig


_SET_PDEATHSIG = _pdeathsig_setter()


async def spawn(argv: tuple[str, ...], env: Mapping[str, str]) -> ProcessHandle:
    """Start ``argv`` in a new session with stdout and stderr merged into one pipe."""
    child_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=child_env,
        start_new_session=True,
        preexec_fn=_SET_PDEATHSIG,
        limit=1 << 20,
    )
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        create_time = time.time()
    return ProcessHandle(proc.pid, create_time, proc.stdout, proc.wait)


async def run_child(argv: tuple[str, ...], timeout_s: float) -> tuple[int, bytes, bytes]:
    """Run a short-lived helper to its end: (exit code, stdout, stderr).

    Raises:
        TimeoutError: it did not end within ``timeout_s`` (it is killed).
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out, err


def adopt(pid: int, create_time: float) -> ProcessHandle | None:
    """Watch a process that a previous supervisor started, if it is still the same one."""
    if not same_process(pid, create_time):
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, on_exit)

    async def wait() -> int | None:
        await asyncio.shield(exited)  # a cancelled waiter must not cancel the exit event
        return None

    return ProcessHandle(pid, create_time, None, wait)


def same_process(pid: int, create_time: float) -> bool:
    """True when ``pid`` is alive and was started at ``create_time`` (not a reused pid)."""
    try:
        proc = psutil.Process(pid)
        same = abs(proc.create_time() - create_time) < 1.0
        return bool(same and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


async def end(handle: ProcessHandle, grace_s: float = STOP_GRACE_S) -> None:
    """Stop what ``handle`` runs: its own way (a container: ``docker stop``), else its
    process group."""
    if handle.stop is not None:
        await handle.stop(grace_s)
        return
    await terminate_group(handle, grace_s)


async def terminate_group(handle: ProcessHandle, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace_s``; leave nothing of it behind."""
    pgid = handle.pid
    _signal_group(pgid, signal.SIGTERM)
    try:
        async with asyncio.timeout(grace_s):
            await handle.wait()
    except TimeoutError:
        log.warning("pid %d ignored SIGTERM for %.0f s: SIGKILL", pgid, grace_s)
        _signal_group(pgid, signal.SIGKILL)
        await handle.wait()
    await kill_group_leftovers(pgid, handle.create_time)


async def kill_group_leftovers(pgid: int, not_before: float) -> int:
    """SIGKILL what remains of a process group whose leader is gone; the count killed.

    Only processes started at or after the leader (``not_before``) are touched, so a
    recycled group id never hits someone else's processes.
    """
    victims = await asyncio.to_thread(_group_members, pgid, not_before)
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    if victims:
        await asyncio.to_thread(psutil.wait_procs, victims, 5.0)
    return len(victims)


def _group_members(pgid: int, not_before: float) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter(["create_time"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["create_time"] >= not_before - 1.0:
                members.append(proc)
        except (OSError, psutil.Error):
            continue
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``host:port`` now (with SO_REUSEADDR, as servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_holder(port: int) -> str:
    """Describe who listens on ``port``: ``"python3 (pid 1234)"`` or a reason it is unknown."""
    try:
        conns = psutil.net_connections(kind="inet")
    except psutil.Error:
        return "another process (not visible to this user)"
    for conn in conns:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            if conn.pid is None:
                return "another process (not visible to this user)"
            try:
                name = psutil.Process(conn.pid).name()
            except psutil.Error:
                name = "?"
            return f"{name} (pid {conn.pid})"
    return "another process (not visible to this user)"
