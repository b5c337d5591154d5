"""The supervisor always ends, and a stuck one is named with the way out, never waited on.

No runner is started (the runner is an external URL nobody serves): no model needed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from tests.conftest import Home, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def external(home: Home) -> Home:
    home.env["ELITE_RUNNER__KIND"] = "external"
    home.env["ELITE_RUNNER__URL"] = f"http://127.0.0.1:{home.runner_port}"
    return home


def test_supervisor_exits_after_a_failed_up_and_two_downs(external: Home) -> None:
    home = external
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", home.assistant_port))
        sock.listen()
        up = home.cli("stack", "up")
        assert up.returncode == 1 and f"port {home.assistant_port} (assistant)" in up.stderr
        (daemon,) = home.daemon_pids()
        assert home.cli("stack", "down").returncode == 0
        assert home.cli("stack", "down").returncode == 0
        wait_for(lambda: not psutil.pid_exists(daemon), 15, "the supervisor to exit")
        again = home.cli("stack", "up")  # the home is free: the same clear refusal, at once
        assert again.returncode == 1 and "is in use by" in again.stderr, again.stderr
        assert "did not answer" not in again.stderr


def test_a_supervisor_holding_the_lock_without_answering_is_named(external: Home) -> None:
    home = external
    lock = home.root / "run" / "supervisor.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"f = open({str(lock)!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.seek(0); f.truncate(); f.write(f'{os.getpid()}\\n'); f.flush()\n"
            "print('held', flush=True); time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        up = home.cli("stack", "up", timeout=30)
        assert up.returncode == 1
        assert f"the supervisor (pid {holder.pid}) holds this home's lock" in up.stderr
        assert f"kill {holder.pid}" in up.stderr
    finally:
        holder.kill()
        holder.wait()


def test_a_stopped_supervisor_is_reported_and_sigterm_ends_it(external: Home) -> None:
    """SIGSTOP: it accepts connections but answers nothing; then SIGTERM ends it."""
    home = external
    assert home.cli("stack", "status").returncode == 0
    start = home.cli("stack", "start", "runner")  # starts a supervisor; the runner is external
    (daemon,) = home.daemon_pids()
    os.kill(daemon, signal.SIGSTOP)
    try:
        up = home.cli("stack", "up", timeout=60)
        assert up.returncode == 1, (start.stderr, up.stderr)
        assert f"the supervisor (pid {daemon}) did not answer within" in up.stderr
        assert f"kill {daemon}" in up.stderr
    finally:
        os.kill(daemon, signal.SIGTERM)
        os.kill(daemon, signal.SIGCONT)
    wait_for(lambda: not psutil.pid_exists(daemon), 15, "the supervisor to end on SIGTERM")
