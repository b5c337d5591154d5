"""A team's topology on loopback, as real processes: server replicas on one PostgreSQL
database and one Redis, behind nginx, with a pool of runners (Ollama doubles, the built-in
runner). The cluster tests and the cluster benchmark start it from here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from elite_panel.core.builtin_runner import bundled_model_path
from tests.conftest import wait_for
from tests.fakes.ollama_double import free_port

TOKEN = "cluster-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BUILTIN_MODEL = "smollm2"
HERE = Path(__file__).parent


@dataclass
class Process:
    """A process of the cluster that can be killed and started again on its port."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log: Path
    ready_path: str
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 60) -> None:
        def answers() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                return httpx.get(self.url + self.ready_path, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout, f"{self.name} to be ready", step=0.1)

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything (a crash, an OOM kill, a lost host)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    """The running topology and what the tests ask of it."""

    url: str  # nginx
    replicas: list[Process]
    runners: dict[str, Process]
    server_env: dict[str, str]
    nginx: Process
    keys: dict[str, str] = field(default_factory=dict)

    def server_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``elite-assistant-server ARGS`` against the cluster's database."""
        return subprocess.run(
            [sys.executable, "-m", "embedded_server", *args],
            env=self.server_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def metric(self, name: str, replica: Process | None = None, **labels: str) -> float:
        """The sum of a series over the replicas that are alive (or of one replica)."""
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = re.compile(rf"^{re.escape(name)}(?:\{{([^}}]*)\}})? (\S+)$", re.M)
        total = 0.0
        for target in [replica] if replica else [r for r in self.replicas if r.alive]:
            text = httpx.get(f"{target.url}/metrics", timeout=5).text
            for found in pattern.finditer(text):
                if all(part in (found.group(1) or "") for part in wanted.split(",") if part):
                    total += float(found.group(2))
        return total

    def runner_state(self, name: str, replica: Process) -> str:
        listed = httpx.get(f"{replica.url}/api/runners", headers=AUTH, timeout=5).json()
        state: str = next(r["state"] for r in listed["runners"] if r["name"] == name)
        return state

    def whole(self) -> None:
        """Start again whatever a test killed, and wait until every replica sees every
        runner up."""
        for process in [*self.runners.values(), *self.replicas]:
            if not process.alive:
                process.start()
        for process in [*self.runners.values(), *self.replicas]:
            process.wait_ready()
        for replica in self.replicas:
            for name in self.runners:
                wait_for(
                    lambda r=replica, n=name: self.runner_state(n, r) == "up",
                    15,
                    f"{name} up on {replica.name}",
                )


def ollama_runner(tmp: Path, name: str, words: int = 60, delay_s: float = 0.05) -> Process:
    """An Ollama double (``words`` per answer, ``delay_s`` apart) as a process."""
    port = free_port()
    env = {
        **os.environ,
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "ELITE_DOUBLE_WORDS": str(words),
        "ELITE_DOUBLE_DELAY_S": str(delay_s),
    }
    argv = [sys.executable, "-m", "tests.fakes.ollama_double"]
    return Process(name, argv, env, port, tmp / f"{name}.log", "/api/version")


def builtin_runner(tmp: Path, name: str = "builtin") -> Process:
    """The built-in runner (llama.cpp's server) with the bundled model, as ``smollm2``."""
    model = bundled_model_path()
    assert model is not None, "the built-in runner's model is not installed"
    port = free_port()
    argv = [
        *(sys.executable, "-m", "llama_cpp.server", "--model", str(model)),
        *("--model_alias", BUILTIN_MODEL, "--host", "127.0.0.1", "--port", str(port)),
        *("--n_ctx", "2048"),
        *("--interrupt_requests", "False"),  # else each health check cuts the answer streaming
    ]
    return Process(name, argv, dict(os.environ), port, tmp / f"{name}.log", "/v1/models")


def runner_spec(runner: Process) -> dict[str, Any]:
    """The runner's item of ``ASSISTANT_RUNNERS``."""
    if runner.ready_path == "/v1/models":
        # llama.cpp's server does not say its window in /v1/models: the pool is told.
        return {
            "name": runner.name,
            "url": runner.url + "/v1",
            "kind": "openai",
            "context_length": 2048,
        }
    return {"name": runner.name, "url": runner.url}


def nginx_process(tmp: Path, replicas: list[Process]) -> Process:
    """nginx load-balancing over ``replicas`` (``nginx.conf.in``), its configuration checked."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = tmp / "nginx"
    prefix.mkdir()
    port = free_port()
    servers = "\n".join(
        f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=2s;" for r in replicas
    )
    config = prefix / "nginx.conf"
    config.write_text(
        (HERE / "nginx.conf.in")
        .read_text()
        .replace("{prefix}", str(prefix))
        .replace("{servers}", servers)
        .replace("{port}", str(port))
    )
    check = subprocess.run([nginx, "-t", "-c", str(config), "-p", str(prefix)], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()
    argv = [nginx, "-c", str(config), "-p", str(prefix), "-g", "daemon off;"]
    return Process("nginx", argv, dict(os.environ), port, prefix / "stdout.log", "/health")


@contextmanager
def running_cluster(
    tmp: Path,
    runners: list[Process],
    database_url: str,
    redis_url: str,
    replicas: int = 3,
    **settings: str,
) -> Iterator[Cluster]:
    """Start ``runners``, then ``replicas`` servers together (on an empty database, they
    migrate it once) and nginx in front; ready when every replica sees every runner up.
    ``settings``: more ``ASSISTANT_*`` variables."""
    server_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "ASSISTANT_API_TOKEN": TOKEN,
        "ASSISTANT_DATABASE_URL": database_url,
        "ASSISTANT_REDIS_URL": redis_url,
        "ASSISTANT_DATA_DIR": str(tmp / "data"),
        "ASSISTANT_RUNNERS": json.dumps([runner_spec(r) for r in runners]),
        "ASSISTANT_RUNNER_CHECK_INTERVAL_S": "0.5",
        "ASSISTANT_RUNNER_FAILURES": "2",
        "ASSISTANT_RUNNER_COOLDOWN_S": "1",
        "ASSISTANT_TRUSTED_PROXIES": "127.0.0.1",
        "ASSISTANT_RATE_LIMIT": "100000/minute",  # counted in Redis, never reached
        "LOG_LEVEL": "INFO",
        **settings,
    }
    servers = []
    for index in range(replicas):
        port = free_port()
        env = {**server_env, "ASSISTANT_PORT": str(port)}
        argv = [sys.executable, "-m", "embedded_server", "serve"]
        servers.append(
            Process(f"replica-{index}", argv, env, port, tmp / f"replica-{index}.log", "/ready")
        )
    nginx = nginx_process(tmp, servers)
    started = [*runners, *servers, nginx]
    try:
        for process in started:
            process.start()
        cluster = Cluster(nginx.url, servers, {r.name: r for r in runners}, server_env, nginx)
        cluster.whole()
        nginx.wait_ready()
        yield cluster
    finally:
        for process in reversed(started):
            process.stop()
