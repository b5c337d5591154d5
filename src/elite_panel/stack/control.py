"""Client side of the control channel, used by the CLI and the panel.

:func:`ensure_daemon` starts the supervisor detached when none answers; the supervisor then
outlives the CLI or panel that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from elite_panel import __version__
from elite_panel.core.errors import DaemonUnavailable, StackError
from elite_panel.core.launch import module_argv
from elite_panel.core.paths import AppPaths
from elite_panel.core.services import ServiceStatus
from elite_panel.stack.protocol import MAX_LINE, encode, read_message
from elite_panel.stack.service_log import read_log_file

DAEMON_START_TIMEOUT_S = 15.0
STATUS_TIMEOUT_S = 10.0  # a supervisor that takes longer to say its status is stuck
SOCKET_PATH_MAX = 107
EXIT_LOCKED = 3  # the daemon's exit code when another supervisor holds the home's lock


class ControlClient:
    """Talks to the supervisor daemon of one ``AppPaths``; a connection per request."""

    def __init__(self, paths: AppPaths) -> None:
        self.paths = paths

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        path = str(self.paths.control_socket)
        if len(path.encode()) > SOCKET_PATH_MAX:
            raise StackError(f"control socket path is too long for this OS: {path}")
        try:
            return await asyncio.open_unix_connection(path, limit=MAX_LINE)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise DaemonUnavailable("the stack is not running (no supervisor)") from exc

    async def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one command and return its reply (``ok`` may be false, with ``error``)."""
        reader, writer = await self._connect()
        try:
            writer.write(encode({"cmd": cmd, **args}))
            await writer.drain()
            reply = await read_message(reader)
        except ConnectionError as exc:
            raise DaemonUnavailable(f"the supervisor closed the connection: {exc}") from exc
        finally:
            writer.close()
        if reply is None:
            raise DaemonUnavailable("the supervisor exited before answering")
        return reply

    async def call(self, cmd: str, **args: Any) -> list[ServiceStatus]:
        """Like :meth:`request`, but a refused command raises :class:`StackError`."""
        reply = await self.request(cmd, **args)
        if not reply.get("ok"):
            error = str(reply.get("error", "the supervisor refused the command"))
            raise StackError(error, str(reply.get("code") or "") or None)
        return reply_services(reply)

    async def stop_running(self, names: list[str]) -> list[str]:
        """Stop those of ``names`` that run (a restore needs them off its files); returns
        them, to start them again afterwards. No supervisor: nothing runs."""
        try:
            running = [s.name for s in await self.call("status") if s.state.is_active]
        except DaemonUnavailable:
            return []
        stopped = [n for n in names if n in running]
        for name in stopped:
            await self.call("stop", service=name)
        return stopped

    async def start_services(self, names: list[str], profile: dict[str, Any]) -> None:
        for name in names:
            await self.call("start", service=name, profile=profile)

    async def stream(self, cmd: str, **args: Any) -> AsyncIterator[dict[str, Any]]:
        """Messages of a streaming command until the daemon closes the stream."""
        reader, writer = await self._connect()
        try:
            writer.write(encode({"cmd": cmd, **args}))
            await writer.drain()
            while True:
                try:
                    message = await read_message(reader)
                except ConnectionError:
                    return
                if message is None:
                    return
                if message.get("ok") is False:
                    raise StackError(str(message.get("error")), message.get("code"))
                yield message
        finally:
            writer.close()

    async def watch(self) -> AsyncIterator[list[ServiceStatus]]:
        async for message in self.stream("watch"):
            yield [ServiceStatus.from_json(s) for s in message["services"]]

    async def logs(self, service: str, lines: int, follow: bool) -> AsyncIterator[str]:
        """A service's log lines: from the daemon, or from its log file when none runs."""
        try:
            async for message in self.stream("logs", service=service, lines=lines, follow=follow):
                yield str(message["line"])
        except DaemonUnavailable:
            if follow:
                raise
            for line in read_log_file(self.paths.logs / f"{service}.log", lines):
                yield line

    async def version(self) -> str | None:
        """The running supervisor's version (``None`` from one too old to say it).

        Raises:
            DaemonUnavailable: no supervisor runs.
        """
        return reply_version(await self.request("status"))

    async def status_reply(self) -> dict[str, Any] | None:
        """The running supervisor's answer to ``status`` (its services, its version), or
        ``None`` when none answers; one that accepts but does not answer is stuck.

        Raises:
            StackError: it did not answer within :data:`STATUS_TIMEOUT_S`.
        """
        try:
            async with asyncio.timeout(STATUS_TIMEOUT_S):
                return await self.request("status")
        except DaemonUnavailable:
            return None
        except TimeoutError:
            what = f"did not answer within {STATUS_TIMEOUT_S:.0f} s"
            raise StackError(_stuck(self.paths, what)) from None

    async def is_running(self) -> bool:
        """Whether a supervisor answers (see :meth:`status_reply`)."""
        return await self.status_reply() is not None


def reply_services(reply: dict[str, Any]) -> list[ServiceStatus]:
    """The services' statuses of a supervisor's reply."""
    return [ServiceStatus.from_json(s) for s in reply.get("services", [])]


def reply_version(reply: dict[str, Any]) -> str | None:
    """The version a supervisor's reply names (``None`` from one too old to say it)."""
    version = reply.get("version")
    return str(version) if version else None


def version_note(running: str | None) -> str:
    """What to say of a supervisor of another version than this one."""
    return (
        f"the stack's supervisor runs version {running or 'older than 0.1.0'}, this is "
        f"{__version__}: `elite-panel stack up` (or Start) restarts it with this version"
    )


async def ensure_daemon(paths: AppPaths, say: Callable[[str], None] | None = None) -> ControlClient:
    """Return a client of a running supervisor of this version, starting one detached if
    needed; one of another version is stopped first (``say`` tells what restarted)."""
    client = ControlClient(paths)
    reply = await client.status_reply()
    if reply is not None:
        running = reply_version(reply)
        if running == __version__:
            return client
        await _replace(client, paths, running, reply_services(reply), say)
    paths.ensure()
    out = open(paths.logs / "supervisor.out", "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(
            module_argv("elite_panel.daemon"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ},
        )
    finally:
        out.close()
    deadline = time.monotonic() + DAEMON_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if await client.is_running():
            # Reap it when it exits, so a long-lived panel collects no zombie.
            threading.Thread(target=proc.wait, name="reap-supervisor", daemon=True).start()
            return client
        code = proc.poll()
        # EXIT_LOCKED: another one holds the home (a second `stack up` at the same moment):
        # it is waited for like ours, and called stuck only if it never answers.
        if code not in (None, 0, EXIT_LOCKED):
            tail = "\n".join(read_log_file(paths.logs / "supervisor.out", 20))
            raise StackError(f"the supervisor exited with code {code}:\n{tail}")
        await asyncio.sleep(0.05)
    if proc.poll() == EXIT_LOCKED:
        raise StackError(_stuck(paths, "holds this home's lock but does not answer"))
    raise StackError(f"the supervisor did not answer within {DAEMON_START_TIMEOUT_S:.0f} s")


async def _replace(
    client: ControlClient,
    paths: AppPaths,
    running: str | None,
    before: list[ServiceStatus],
    say: Callable[[str], None] | None,
) -> None:
    """Stop a supervisor of another version (its services, ``before``, stop gracefully)
    and wait until it has let go of the home."""
    active = [s.name for s in before if s.state.is_active]
    assistant = next((s for s in before if s.name == "assistant" and s.url), None)
    if assistant is not None and await _answers_in_flight(str(assistant.url)):
        raise StackError(
            f"the stack (version {running or 'older than 0.1.0'}) is writing an answer now: "
            "run `elite-panel stack up` again when it ends (nothing is lost then), or "
            "`elite-panel stack down` to stop it at once"
        )
    pid = _lock_pid(paths)
    with contextlib.suppress(DaemonUnavailable):
        await client.call("down")
    deadline = time.monotonic() + DAEMON_START_TIMEOUT_S
    while await client.is_running() or (pid is not None and _alive(pid)):
        if time.monotonic() > deadline:
            raise StackError(_stuck(paths, f"(version {running}) did not stop for the upgrade"))
        await asyncio.sleep(0.05)
    if say:
        restarted = f"{' and '.join(active)} restart" if active else "nothing was running"
        say(
            f"restarted the supervisor: it ran version {running or 'older than 0.1.0'}, "
            f"this is {__version__}; {restarted} with this version"
        )


async def _answers_in_flight(url: str) -> int:
    """How many answers the assistant at ``url`` is streaming (its ``/metrics``, open to
    loopback clients); 0 when it does not say."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            text = (await http.get(f"{url}/metrics")).text
    except httpx.HTTPError:
        return 0
    for line in text.splitlines():
        if line.startswith("assistant_active_streams "):
            return int(float(line.split()[1]))
    return 0


def _lock_pid(paths: AppPaths) -> int | None:
    try:
        return int(paths.daemon_lock.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    return True


def _stuck(paths: AppPaths, what: str) -> str:
    """What to say of a supervisor that holds the home but does not answer, and the way out."""
    pid = _lock_pid(paths)
    if pid is None:
        return (
            f"the supervisor of {paths.data} {what}; find it with "
            f"`fuser {paths.daemon_lock}`, stop it (kill PID), then run the command again"
        )
    return (
        f"the supervisor (pid {pid}) {what}: it is stuck. Stop it with `kill {pid}` "
        f"(`kill -9 {pid}` if it stays), then run the command again; its services stop with it"
    )
