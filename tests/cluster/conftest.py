"""A team's topology on loopback: nginx in front of three server replicas on one
PostgreSQL database and one Redis, with a pool of runners (two Ollama doubles and the
built-in runner with its bundled model), each a real process the tests can kill.

Needs nginx (Debian's ``nginx-light``), ``ELITE_TEST_POSTGRES_URL`` and
``ELITE_TEST_REDIS_URL``: CI has them all; without them the tests skip, unless
``ELITE_REQUIRE_SERVICES=1`` makes that a failure.
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
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from elite_panel.core.builtin_runner import bundled_model_path
from tests.conftest import model_installed, wait_for
from tests.fakes.ollama_double import free_port
from tests.server.conftest import postgres_database, require_service

TOKEN = "cluster-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPLICAS = 3
REDIS_DB = 3  # the cluster's own database of the test Redis
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


def _runners(tmp: Path) -> dict[str, Process]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    runners: dict[str, Process] = {}
    for name in ("ollama-a", "ollama-b"):
        port = free_port()
        runners[name] = Process(
            name,
            [sys.executable, "-m", "tests.fakes.ollama_double"],
            {
                **env,
                "OLLAMA_HOST": f"127.0.0.1:{port}",
                "ELITE_DOUBLE_WORDS": "60",
                "ELITE_DOUBLE_DELAY_S": "0.05",  # 3 s answers: time to kill things mid-way
            },
            port,
            tmp / f"{name}.log",
            "/api/version",
        )
    model = bundled_model_path()
    assert model is not None
    port = free_port()
    runners["builtin"] = Process(
        "builtin",
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--model_alias",
            BUILTIN_MODEL,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--interrupt_requests",  # else each health check cuts the answer streaming
            "False",
        ],
        env,
        port,
        tmp / "builtin.log",
        "/v1/models",
    )
    return runners


def _nginx(tmp: Path, replicas: list[Process]) -> Process:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = tmp / "nginx"
    prefix.mkdir()
    port = free_port()
    servers = "\n".join(
        f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=2s;" for r in replicas
    )
    template = (HERE / "nginx.conf.in").read_text()
    config = prefix / "nginx.conf"
    config.write_text(
        template.replace("{prefix}", str(prefix))
        .replace("{servers}", servers)
        .replace("{port}", str(port))
    )
    argv = [nginx, "-c", str(config), "-p", str(prefix), "-g", "daemon off;"]
    check = subprocess.run([nginx, "-t", "-c", str(config), "-p", str(prefix)], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()
    return Process("nginx", argv, dict(os.environ), port, prefix / "stdout.log", "/health")


def _need_nginx() -> None:
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return
    if os.environ.get("ELITE_REQUIRE_SERVICES") == "1":
        pytest.fail("ELITE_REQUIRE_SERVICES=1 but nginx is not installed (nginx-light)")
    pytest.skip("nginx is not installed (apt-get install nginx-light)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _need_nginx()
    admin_url = require_service("ELITE_TEST_POSTGRES_URL", "PostgreSQL server")
    redis_url = require_service("ELITE_TEST_REDIS_URL", "Redis server").rsplit("/", 1)[0]
    redis_url = f"{redis_url}/{REDIS_DB}"
    if not model_installed():
        pytest.fail("the cluster's pool has the built-in runner: install '.[local]'")
    redis.Redis.from_url(redis_url).flushdb()
    tmp = tmp_path_factory.mktemp("cluster")
    runners = _runners(tmp)
    with postgres_database(admin_url) as database_url:
        server_env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "ASSISTANT_API_TOKEN": TOKEN,
            "ASSISTANT_DATABASE_URL": database_url,
            "ASSISTANT_REDIS_URL": redis_url,
            "ASSISTANT_DATA_DIR": str(tmp / "data"),
            "ASSISTANT_RUNNERS": json.dumps(
                [
                    {"name": "ollama-a", "url": runners["ollama-a"].url},
                    {"name": "ollama-b", "url": runners["ollama-b"].url},
                    {"name": "builtin", "url": runners["builtin"].url + "/v1", "kind": "openai"},
                ]
            ),
            "ASSISTANT_RUNNER_CHECK_INTERVAL_S": "0.5",
            "ASSISTANT_RUNNER_FAILURES": "2",
            "ASSISTANT_RUNNER_COOLDOWN_S": "1",
            "ASSISTANT_TRUSTED_PROXIES": "127.0.0.1",
            "ASSISTANT_RATE_LIMIT": "100000/minute",  # counted in Redis, never reached
            "LOG_LEVEL": "INFO",
        }
        replicas = []
        for index in range(REPLICAS):
            port = free_port()
            replicas.append(
                Process(
                    f"replica-{index}",
                    [sys.executable, "-m", "embedded_server", "serve"],
                    {**server_env, "ASSISTANT_PORT": str(port)},
                    port,
                    tmp / f"replica-{index}.log",
                    "/ready",
                )
            )
        nginx = _nginx(tmp, replicas)
        started = [
            *runners.values(),
            *replicas,
            nginx,
        ]  # the replicas together, on an empty database
        try:
            for process in started:
                process.start()
            cluster = Cluster(nginx.url, replicas, runners, server_env, nginx)
            cluster.whole()
            nginx.wait_ready()
            yield cluster
        finally:
            for process in reversed(started):
                process.stop()
