"""The supervision state machine, on real (tiny) processes: no model needed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import psutil

from elite_panel.core.redaction import REDACTED
from elite_panel.core.services import ServiceState
from elite_panel.stack import processes
from elite_panel.stack.service import RestartPolicy, Service
from elite_panel.stack.service_log import ServiceLog
from elite_panel.stack.specs import ServiceSpec
from tests.fakes.ollama_double import free_port

FAST = RestartPolicy(initial_delay_s=0.05, max_delay_s=0.2, window_s=60, max_crashes=5)


def http_spec(port: int, prefix: str = "", secrets: tuple[str, ...] = ()) -> ServiceSpec:
    code = (
        f"{prefix}import http.server as h; "
        f"h.test(h.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')"
    )
    return ServiceSpec(
        "runner",
        "test",
        (sys.executable, "-c", code),
        port,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{port}/",
        start_timeout_s=20,
        secrets=secrets,
    )


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def make_service(
    spec: ServiceSpec, tmp_path: Path, policy: RestartPolicy = FAST
) -> tuple[Service, httpx.AsyncClient, list[ServiceState]]:
    http = httpx.AsyncClient(trust_env=False)
    seen: list[ServiceState] = []
    service = Service(
        spec, ServiceLog(spec.name, tmp_path), http, lambda s: seen.append(s.state), policy
    )
    return service, http, seen


def test_backoff_doubles_to_the_cap() -> None:
    policy = RestartPolicy()
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_crash_is_restarted_and_counted(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, http, seen = await make_service(http_spec(free_port()), tmp_path)
        service.start()
        assert await service.wait_settled() is ServiceState.READY
        first_pid = service.handle.pid if service.handle else 0
        os.kill(first_pid, signal.SIGKILL)
        await until(lambda: service.restarts == 1 and service.state is ServiceState.READY)
        assert service.handle is not None and service.handle.pid != first_pid
        assert "killed by signal 9" in (service.last_error or "")
        assert seen.index(ServiceState.CRASHED) < seen.index(ServiceState.BACKOFF)
        await service.stop()
        assert service.state is ServiceState.STOPPED
        assert not psutil.pid_exists(first_pid)
        await http.aclose()

    asyncio.run(scenario())


def test_a_service_that_stops_answering_is_unhealthy_then_restarted(tmp_path: Path) -> None:
    """SIGSTOP: the process lives but answers nothing. After three failed checks it is
    ``unhealthy``; after three more it is ended (SIGKILL) and started again."""
    policy = replace(FAST, liveness_interval_s=0.1, liveness_failures=3)

    async def scenario() -> None:
        service, http, seen = await make_service(http_spec(free_port()), tmp_path, policy)
        service.start()
        assert await service.wait_settled() is ServiceState.READY
        first_pid = service.handle.pid if service.handle else 0
        os.kill(first_pid, signal.SIGSTOP)
        await until(lambda: service.state is ServiceState.UNHEALTHY)
        assert "stopped answering" in (service.last_error or "")
        await until(lambda: service.restarts == 1 and service.state is ServiceState.READY)
        assert service.handle is not None and service.handle.pid != first_pid
        assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == "zombie"
        assert seen.index(ServiceState.UNHEALTHY) < seen.index(ServiceState.CRASHED)
        await service.stop()
        await http.aclose()

    asyncio.run(scenario())


def test_exit_during_first_start_fails_with_its_output(tmp_path: Path) -> None:
    spec = ServiceSpec(
        "assistant",
        "test",
        (sys.executable, "-c", "print('model file is corrupt'); raise SystemExit(3)"),
        free_port(),
        "http://x",
        "http://127.0.0.1:9/",
        start_timeout_s=20,
    )

    async def scenario() -> None:
        service, http, _ = await make_service(spec, tmp_path)
        service.start()
        assert await service.wait_settled() is ServiceState.FAILED
        assert service.last_error == "exited with code 3 during start"
        await until(lambda: "model file is corrupt" in service.error_with_tail())
        assert service.restarts == 0
        await http.aclose()

    asyncio.run(scenario())


def test_too_many_crashes_give_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, http, _ = await make_service(http_spec(free_port()), tmp_path)
        service.start()
        await service.wait_settled()
        for _ in range(FAST.max_crashes + 1):
            await until(
                lambda: service.state is ServiceState.READY or service.state is ServiceState.FAILED
            )
            if service.handle:
                os.kill(service.handle.pid, signal.SIGKILL)
                await until(lambda: service.state is not ServiceState.READY)
        await until(lambda: service.state is ServiceState.FAILED)
        assert "giving up" in (service.last_error or "")
        assert service.restarts == FAST.max_crashes
        await http.aclose()

    asyncio.run(scenario())


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    port = free_port()
    prefix = "import subprocess; subprocess.Popen(['sleep', '1000']); "

    async def scenario() -> None:
        service, http, _ = await make_service(http_spec(port, prefix), tmp_path)
        service.start()
        assert await service.wait_settled() is ServiceState.READY
        assert service.handle is not None
        leader = psutil.Process(service.handle.pid)
        children = leader.children()
        assert [c.name() for c in children] == ["sleep"]
        await service.stop()
        assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
        assert processes.port_is_free(port)
        await http.aclose()

    asyncio.run(scenario())


def test_sigterm_ignored_means_sigkill_after_grace(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(1000)"
    )

    async def scenario() -> None:
        handle = await processes.spawn((sys.executable, "-c", code), {})
        assert handle.stdout is not None
        assert await handle.stdout.readline() == b"up\n"
        await processes.terminate_group(handle, grace_s=0.3)
        assert handle.returncode == -signal.SIGKILL

    asyncio.run(scenario())


def test_adopted_process_exit_is_noticed_without_polling() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])

    async def scenario() -> None:
        handle = processes.adopt(proc.pid, psutil.Process(proc.pid).create_time())
        assert handle is not None
        assert processes.adopt(proc.pid, 12345.0) is None  # a reused pid is not adopted
        waiter = asyncio.ensure_future(handle.wait())
        await asyncio.sleep(0.05)
        assert not waiter.done()
        proc.kill()
        await asyncio.wait_for(waiter, 5)

    asyncio.run(scenario())
    proc.wait()


def test_port_holder_names_the_process() -> None:
    port = free_port()
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert not processes.port_is_free(port)
        assert f"(pid {os.getpid()})" in processes.port_holder(port)
    assert processes.port_is_free(port)


def test_log_redacts_secrets_and_keeps_a_bounded_tail(tmp_path: Path) -> None:
    log = ServiceLog("assistant", tmp_path, tail_lines=3)
    log.set_secrets(["s3cr3t-token"])
    for i in range(5):
        log.write(f"line {i} Authorization: Bearer s3cr3t-token")
    log.close()
    assert log.tail(10) == [f"line {i} Authorization: Bearer {REDACTED}" for i in (2, 3, 4)]
    text = (tmp_path / "assistant.log").read_text()
    assert "s3cr3t-token" not in text
    assert text.count("\n") == 5


def test_the_profiles_log_rotation_applies_to_every_log(tmp_path: Path) -> None:
    """``[logging] max_mb`` and ``keep``: each service's log and the daemon's own rotate
    at that size and keep that many files."""
    import logging
    import logging.handlers

    from elite_panel.core.paths import AppPaths
    from elite_panel.core.profiles import LoggingSettings
    from elite_panel.stack.service_log import LOG_BACKUPS, LOG_MAX_BYTES
    from elite_panel.stack.supervisor import Supervisor

    defaults = LoggingSettings()  # before any profile: the same rotation
    assert (defaults.max_mb << 20, defaults.keep) == (LOG_MAX_BYTES, LOG_BACKUPS)
    paths = AppPaths.from_env({"ELITE_HOME": str(tmp_path)}).ensure()
    own = logging.handlers.RotatingFileHandler(paths.logs / "supervisor.log", maxBytes=1 << 30)
    root = logging.getLogger()
    root.addHandler(own)
    try:
        supervisor = Supervisor(paths)
        supervisor.rotate_logs(max_mb=1, keep=2)
        assert (own.maxBytes, own.backupCount) == (1 << 20, 2)
        log = supervisor.logs["assistant"]
        line = "x" * 1023
        for _ in range(5 * 1024):  # 5 MB of lines: rotated at 1 MB, two older files kept
            log.write(line)
        files = sorted(p.name for p in paths.logs.glob("assistant.log*"))
        assert files == ["assistant.log", "assistant.log.1", "assistant.log.2"]
        assert all(p.stat().st_size <= 1 << 20 for p in paths.logs.glob("assistant.log*"))
        for service_log in supervisor.logs.values():
            service_log.close()
    finally:
        root.removeHandler(own)
        own.close()
