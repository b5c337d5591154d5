"""The real stack, end to end: the supervisor daemon, the built-in runner with the bundled
model, and the assistant server, driven through the ``elite-panel`` command. Tests that
start no runner need no model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from tests.conftest import Home, wait_for

pytestmark = pytest.mark.slow


def status(home: Home) -> dict[str, dict[str, object]]:
    result = home.cli("stack", "status", "--json")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def listeners(port: int) -> list[int]:
    return [
        c.pid
        for c in psutil.net_connections("inet")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
    ]


@pytest.mark.model
def test_up_chat_crash_restart_down(home: Home) -> None:
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    services = status(home)
    assert {s["state"] for s in services.values()} == {"ready"}
    assert services["runner"]["kind"] == "builtin"
    assert services["assistant"]["url"] == f"http://127.0.0.1:{home.assistant_port}"

    chat = home.cli("chat", "Write a Python function that returns the sum of two numbers.")
    assert chat.returncode == 0, chat.stderr
    assert "def " in chat.stdout or "```" in chat.stdout, chat.stdout
    assert "tok/s" in chat.stderr

    runner_pid = int(services["runner"]["pid"])  # type: ignore[arg-type]
    os.kill(runner_pid, signal.SIGKILL)
    wait_for(lambda: status(home)["runner"]["state"] != "ready", 5, "the crash to be noticed")
    # `stack up` during the restart waits for it; it must not tear the stack down.
    again = home.cli("stack", "up")
    assert again.returncode == 0, again.stderr
    back = status(home)["runner"]
    assert back["state"] == "ready" and back["restarts"] == 1
    assert back["pid"] != runner_pid
    assert "killed by signal 9" in str(back["last_error"])
    assert home.cli("chat", "Say hi").returncode == 0  # the assistant reaches the new runner

    service_pids = [int(s["pid"]) for s in status(home).values()]  # type: ignore[arg-type]
    down = home.cli("stack", "down")
    assert down.returncode == 0, down.stderr
    wait_for(lambda: not home.processes(), 15, "every process of the stack to end")
    assert not any(psutil.pid_exists(p) for p in service_pids)
    assert not (home.root / "run" / "assistant.token").exists()


@pytest.mark.model
def test_taken_port_is_reported_and_nothing_starts(home: Home) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", home.runner_port))
        sock.listen()
        up = home.cli("stack", "up")
        assert up.returncode == 1
        assert f"port {home.runner_port} (runner) is in use by" in up.stderr
        assert f"(pid {os.getpid()})" in up.stderr
        assert "nothing was started" in up.stderr
        assert {s["state"] for s in status(home).values()} == {"stopped"}
        assert listeners(home.runner_port) == [os.getpid()]  # the other process is untouched
        assert not [p for p in home.processes() if p.pid not in home.daemon_pids()]


@pytest.mark.model
def test_killed_daemon_leaves_no_unsupervised_service_and_no_duplicate(home: Home) -> None:
    assert home.cli("stack", "up").returncode == 0
    before = status(home)
    old_pids = [int(s["pid"]) for s in before.values()]  # type: ignore[arg-type]
    (daemon,) = home.daemon_pids()
    os.kill(daemon, signal.SIGKILL)
    # Without their supervisor the services stop (PR_SET_PDEATHSIG) ...
    wait_for(
        lambda: (
            not any(
                psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in old_pids
            )
        ),
        15,
        "the orphaned services to stop",
    )
    # ... and the next `stack up` brings up exactly one copy of each.
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    after = status(home)
    assert {s["state"] for s in after.values()} == {"ready"}
    for name, port in (("runner", home.runner_port), ("assistant", home.assistant_port)):
        assert listeners(port) == [after[name]["pid"]]
    assert len(home.daemon_pids()) == 1


@pytest.mark.model
def test_new_daemon_adopts_a_service_that_still_answers(home: Home) -> None:
    """A service left running (its supervisor gone) is adopted, not duplicated or orphaned."""
    www = home.root / "www"
    (www / "v1").mkdir(parents=True)
    (www / "v1" / "models").write_text('{"data": []}')  # the runner's health URL answers
    code = (
        "import functools, http.server as h; "
        f"handler = functools.partial(h.SimpleHTTPRequestHandler, directory={str(www)!r}); "
        f"h.test(handler, port={home.runner_port}, bind='127.0.0.1')"
    )
    orphan = subprocess.Popen(
        [sys.executable, "-c", code],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stale = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        wait_for(lambda: listeners(home.runner_port), 10, "the orphan to listen")
        record = {
            "version": 1,
            "daemon_pid": 999999,
            "runner_kind": "builtin",
            "profile": {
                "runner": {"kind": "builtin", "port": home.runner_port},
                "assistant": {"port": home.assistant_port},
            },
            "services": {
                "runner": {
                    "pid": orphan.pid,
                    "create_time": psutil.Process(orphan.pid).create_time(),
                    "port": home.runner_port,
                    "kind": "builtin",
                },
                "assistant": {
                    "pid": stale.pid,
                    "create_time": psutil.Process(stale.pid).create_time(),
                    "port": home.assistant_port,
                    "kind": "assistant",
                },
            },
        }
        state = home.root / "state"
        state.mkdir(parents=True, exist_ok=True)
        (state / "stack.json").write_text(json.dumps(record))
        services = status(home)  # no supervisor yet: nothing claimed
        assert services["runner"]["state"] == "stopped"
        start = home.cli("stack", "start", "assistant")  # starts a supervisor, which adopts
        assert start.returncode == 0, start.stderr
        services = status(home)
        assert services["runner"]["state"] == "ready"
        assert services["runner"]["pid"] == orphan.pid
        assert stale.wait(timeout=10) == -signal.SIGKILL  # the one that did not answer is gone
        assert home.cli("stack", "down").returncode == 0
        assert orphan.wait(timeout=15) is not None
    finally:
        for proc in (orphan, stale):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_bad_profile_is_a_clear_error(home: Home) -> None:
    profiles = home.root / "config" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "default.toml").write_text('[runner]\nkind = "warp-drive"\n')
    env_kind = home.env.pop("ELITE_RUNNER__KIND")
    try:
        up = home.cli("stack", "up")
    finally:
        home.env["ELITE_RUNNER__KIND"] = env_kind
    assert up.returncode == 1
    assert "runner.kind = 'warp-drive'" in up.stderr
    assert f"{profiles / 'default.toml'}:2" in up.stderr
    assert "Traceback" not in up.stderr
    assert not home.daemon_pids()
    home.env["ELITE_ASSISTANT__PORT"] = "not-a-port"
    status_result = home.cli("stack", "status")
    assert status_result.returncode == 1
    assert "environment variable ELITE_ASSISTANT__PORT" in status_result.stderr


def test_chat_without_a_stack_says_what_to_do(home: Home) -> None:
    chat = home.cli("chat", "hello")
    assert chat.returncode == 1
    assert "stack is not up" in chat.stderr
    assert "elite-panel stack up" in chat.stderr
    logs = home.cli("stack", "logs", "runner")  # no supervisor: read from the log file
    assert logs.returncode == 0, logs.stderr


@pytest.mark.model
def test_down_stops_a_start_in_progress(home: Home) -> None:
    up = subprocess.Popen(
        [sys.executable, "-m", "elite_panel", "stack", "up"],
        env=home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(  # (a first start converts the embedding model first: slow when loaded)
            lambda: home.daemon_pids() and status(home)["runner"]["state"] == "starting",
            90,
            "the start to be under way",
        )
        down = home.cli("stack", "down")
        assert down.returncode == 0, down.stderr
        _out, err = up.communicate(timeout=60)
        assert up.returncode == 1
        assert "stopped while it was starting" in err
        wait_for(lambda: not home.processes(), 15, "every process of the stack to end")
    finally:
        if up.poll() is None:
            up.kill()
