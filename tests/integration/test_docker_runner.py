"""The ``docker`` runner against a real Docker engine, with a local image answering like
Ollama (``tests/fakes/ollama_image.py``; no registry is reachable in CI).

CI starts dockerd and exports ``DOCKER_HOST`` and ``ELITE_REQUIRE_DOCKER=1``: then a missing
engine is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from elite_panel.core.services import ServiceState, ServiceStatus
from elite_panel.monitor.collector import Collector
from elite_panel.stack.containers import LABEL
from tests.conftest import Home, wait_for
from tests.fakes import ollama_image

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker")]


@pytest.fixture(scope="module")
def engine() -> Any:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        if os.environ.get("ELITE_REQUIRE_DOCKER") == "1":
            pytest.fail(f"ELITE_REQUIRE_DOCKER=1 but no Docker engine answers: {exc}")
        pytest.skip(f"no Docker engine (start dockerd and set DOCKER_HOST): {exc}")
    ollama_image.build(client)
    return client


@pytest.fixture
def docker_home(home: Home, engine: Any) -> Iterator[Home]:
    name = f"elite-test-{home.root.name}"
    home.env.update(
        {
            "ELITE_RUNNER__KIND": "docker",
            "ELITE_RUNNER__DOCKER__IMAGE": ollama_image.IMAGE,
            "ELITE_RUNNER__DOCKER__NETWORK": "host",  # the test engine has no bridge
            "ELITE_RUNNER__DOCKER__CONTAINER_NAME": name,
            "ELITE_RUNNER__DOCKER__MODELS_VOLUME": f"{name}-models",
        }
    )
    yield home
    for container in engine.containers.list(all=True, filters={"name": name}):
        container.remove(force=True)
    for volume in engine.volumes.list(filters={"name": f"{name}-models"}):
        volume.remove(force=True)


def status(home: Home) -> dict[str, dict[str, Any]]:
    result = home.cli("stack", "status", "--json")
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def container_name(home: Home) -> str:
    return home.env["ELITE_RUNNER__DOCKER__CONTAINER_NAME"]


def test_lifecycle_kill_restart_logs_stats_down(docker_home: Home, engine: Any) -> None:
    home = docker_home
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    runner = status(home)["runner"]
    assert runner["state"] == "ready" and runner["kind"] == "docker"
    container = engine.containers.get(container_name(home))
    assert container.labels[LABEL] == str(home.root / "data")
    assert home.cli("chat", "Say hi").returncode == 0  # the server reaches Ollama in Docker

    container.kill()
    wait_for(lambda: status(home)["runner"]["restarts"] == 1, 60, "the restart")
    wait_for(lambda: status(home)["runner"]["state"] == "ready", 60, "ready again")
    again = engine.containers.get(container_name(home))
    assert again.id != container.id and again.status == "running"

    logs = home.cli("stack", "logs", "runner", "-n", "200").stdout
    assert "ollama double listening" in logs and "GET /api/version" in logs
    assert "no NVIDIA runtime in the Docker engine: the runner uses the CPU" in logs

    runner = status(home)["runner"]
    statuses = [ServiceStatus("runner", ServiceState.READY, "docker", pid=runner["pid"])]
    import asyncio

    async def sample() -> Any:
        collector = Collector(home.root / "data")
        try:
            await collector.sample(statuses)
            await asyncio.sleep(0.5)
            return await collector.sample(statuses)
        finally:
            await collector.aclose()

    service = asyncio.run(sample()).services[0]
    assert service.rss_bytes and service.rss_bytes > 0 and service.cpu_percent is not None

    assert home.cli("stack", "down").returncode == 0
    assert engine.containers.list(all=True, filters={"name": container_name(home)}) == []


def test_adopts_our_running_container(docker_home: Home, engine: Any) -> None:
    home = docker_home
    port = home.runner_port
    ours = engine.containers.run(
        ollama_image.IMAGE,
        name=container_name(home),
        detach=True,
        network_mode="host",
        labels={LABEL: str(home.root / "data")},
        environment={"OLLAMA_HOST": f"127.0.0.1:{port}"},
    )
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert engine.containers.get(container_name(home)).id == ours.id
    assert "adopting the running container" in home.cli("stack", "logs", "runner").stdout


def test_refuses_a_container_that_is_not_ours(docker_home: Home, engine: Any) -> None:
    home = docker_home
    stranger = engine.containers.run(
        ollama_image.IMAGE, name=container_name(home), detach=True, network_mode="none"
    )
    up = home.cli("stack", "up")
    assert up.returncode == 1
    assert "exists and is not this panel's" in up.stderr
    stranger.reload()
    assert stranger.status == "running"  # untouched


def test_engine_unreachable_says_why(docker_home: Home) -> None:
    home = docker_home
    home.env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    up = home.cli("stack", "up")
    assert up.returncode == 1
    assert "cannot reach the Docker engine at unix:///nonexistent/docker.sock" in up.stderr
    assert "check DOCKER_HOST" in up.stderr
    assert {s["state"] for s in status(home).values()} <= {"stopped", "failed"}


def test_missing_image_that_cannot_be_pulled(docker_home: Home) -> None:
    home = docker_home
    home.env["ELITE_RUNNER__DOCKER__IMAGE"] = "elite-test/does-not-exist:1"
    up = home.cli("stack", "up")
    assert up.returncode == 1
    assert "could not pull elite-test/does-not-exist:1" in up.stderr
