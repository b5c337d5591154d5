"""An upgrade installed while the stack runs: the running supervisor is of another version.
``stack status`` says so; ``stack up`` replaces it (its services stop gracefully and start
again with the new code) and says what restarted.

The older supervisor is this code with its version set back (the version is what the
supervisor reports, and what the new commands compare).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import httpx
import psutil
import pytest

from elite_panel import __version__
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import load_profile
from elite_panel.stack.control import ControlClient
from tests.conftest import Home, wait_for
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

pytestmark = [pytest.mark.model, pytest.mark.slow]
OLD = "0.0.9"
OLD_SUPERVISOR = (
    "import runpy, elite_panel; elite_panel.__version__ = {old!r}; "
    "runpy.run_module('elite_panel.daemon', run_name='__main__', alter_sys=True)"
)


def start_old_supervisor(home: Home) -> int:
    """A supervisor that reports version OLD, with its stack up (the built-in runner)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", OLD_SUPERVISOR.format(old=OLD)],
        env=home.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    threading.Thread(target=proc.wait, daemon=True).start()  # reaped when it exits
    paths = AppPaths.from_env(home.env)
    client = ControlClient(paths)

    async def answers() -> bool:
        return await client.is_running()

    wait_for(lambda: asyncio.run(answers()), 30, "the old supervisor")
    profile = load_profile(paths, "default", home.env).model_dump(mode="json")
    asyncio.run(client.call("up", profile=profile))
    assert asyncio.run(client.version()) == OLD
    return proc.pid


def test_a_supervisor_of_another_version_is_noticed_and_replaced_by_stack_up(
    home: Home,
) -> None:
    old_pid = start_old_supervisor(home)

    status = home.cli("stack", "status")
    assert status.returncode == 0
    assert f"runs version {OLD}, this is {__version__}" in status.stderr
    assert "ready" in status.stdout  # its stack is up and left alone by a status

    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    assert f"restarted the supervisor: it ran version {OLD}" in up.stderr
    assert "runner and assistant restart" in up.stderr
    wait_for(lambda: not psutil.pid_exists(old_pid), 15, "the old supervisor to exit")
    (new_pid,) = home.daemon_pids()
    assert new_pid != old_pid
    assert up.stdout.count("ready") == 2  # both services up again, on the new code

    again = home.cli("stack", "status")
    assert again.returncode == 0 and "note:" not in again.stderr
    assert home.cli("chat", "Say hi.").returncode == 0


def test_the_first_start_of_a_newer_version_backs_up_first(home: Home) -> None:
    paths = AppPaths.from_env(home.env).ensure()
    (paths.state / "version").write_text(f"{OLD}\n")
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    listing = json.loads(home.cli("backup", "list", "--json").stdout)
    reasons = [b.get("reason") for b in listing["backups"]]
    assert f"before upgrading from {OLD} to {__version__}" in reasons
    assert (paths.state / "version").read_text().strip() == __version__
    home.cli("stack", "down")
    assert home.cli("stack", "up").returncode == 0  # the same version again: no new backup
    again = json.loads(home.cli("backup", "list", "--json").stdout)
    assert len(again["backups"]) == len(listing["backups"])


def test_an_older_version_refuses_a_home_a_newer_one_used(home: Home) -> None:
    paths = AppPaths.from_env(home.env).ensure()
    (paths.state / "version").write_text("99.0.0\n")
    up = home.cli("stack", "up")
    assert up.returncode == 1
    assert "last used by version 99.0.0, newer than this one" in up.stderr
    assert "Traceback" not in up.stderr
    assert (paths.state / "version").read_text().strip() == "99.0.0"
    status = home.cli("stack", "status")
    assert "ready" not in status.stdout


def test_a_supervisor_writing_an_answer_is_not_replaced(home: Home) -> None:
    """An answer streaming (from an Ollama double that writes one word each 50 ms: it
    lasts whatever the machine's load) stops the upgrade; once it is cut, it goes on."""
    double = OllamaDouble(answer=" ".join(["word"] * 1000), delay_s=0.05)
    for url in serve_in_thread(build_app(double)):
        double.url = url
        home.env.update(ELITE_RUNNER__KIND="external", ELITE_RUNNER__URL=double.url)
        _answer_holds_the_upgrade(home)


def _answer_holds_the_upgrade(home: Home) -> None:
    start_old_supervisor(home)
    url = f"http://127.0.0.1:{home.assistant_port}"

    def streams() -> int:
        text = httpx.get(f"{url}/metrics", timeout=5).text
        line = next(ln for ln in text.splitlines() if ln.startswith("assistant_active_streams "))
        return int(float(line.split()[1]))

    answer = subprocess.Popen(
        [sys.executable, "-m", "elite_panel", "chat", "--model", "llama3.2", "Tell me a story."],
        env=home.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: streams() > 0, 30, "the answer to start streaming")
        up = home.cli("stack", "up")
        assert up.returncode == 1 and "is writing an answer now" in up.stderr
    finally:
        answer.kill()
        answer.wait()
    wait_for(lambda: streams() == 0, 30, "the cut answer to be stored")
    assert home.cli("stack", "up").returncode == 0  # nothing in flight: replaced now
