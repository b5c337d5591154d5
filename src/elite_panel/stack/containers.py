"""Ollama as a container, through the Docker engine (the ``docker`` SDK).

Our daemon supervises it exactly like a process (not Docker's restart policy): a started
container becomes a :class:`~elite_panel.stack.processes.ProcessHandle` whose wait is the
container's exit, whose output is its log stream and whose stop is ``docker stop`` with a
grace period, then removal. Containers we create carry the label :data:`LABEL` naming the
installation; one of the configured name without it is never touched.

Every SDK call blocks: they run in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from elite_panel.core.errors import StackError
from elite_panel.stack.processes import ProcessHandle

log = logging.getLogger(__name__)

LABEL = "io.elite-coding-assistant.stack"
OLLAMA_PORT_IN_CONTAINER = 11434


@dataclass(frozen=True)
class ContainerSpec:
    """How to run the runner's container (built from ``runner.docker`` in the profile)."""

    image: str
    name: str
    stack: str  # the label's value: which installation owns it
    port: int  # where the host reaches Ollama (127.0.0.1:port)
    network: str  # "bridge" or "host"
    models_volume: str
    gpus: str  # auto, all, none, or "0,1"
    env: dict[str, str] = field(default_factory=dict, compare=False)


def engine() -> Any:
    """A client of the engine ``DOCKER_HOST`` names (the local socket by default).

    Raises:
        StackError: the engine cannot be reached, with the reason and what to do.
    """
    import docker
    import docker.errors

    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as exc:
        reason = str(exc)
        hint = "start it (`sudo systemctl start docker`)"
        if "Permission denied" in reason:
            hint = (
                "add yourself to the docker group (`sudo usermod -aG docker $USER`, log in again)"
            )
        elif where.startswith("ssh://"):
            hint = "check the SSH login and that Docker runs there (`pip install 'docker[ssh]'`)"
        elif os.environ.get("DOCKER_HOST"):
            hint = "check DOCKER_HOST"
        raise StackError(f"cannot reach the Docker engine at {where}: {reason}; {hint}") from exc
    return client


def is_local(client: Any) -> bool:
    """Whether the engine runs on this machine (its processes are ours to sample)."""
    return str(client.api.base_url).startswith(("http+docker://localhost", "http+docker://local"))


def has_nvidia_runtime(client: Any) -> bool:
    return "nvidia" in (client.info().get("Runtimes") or {})


async def start(spec: ContainerSpec, say: Callable[[str], None]) -> ProcessHandle:
    """Create and start the container (pulling its image when missing), or adopt ours if it
    already runs; ``say`` receives progress lines for the service's log."""
    loop = asyncio.get_running_loop()
    client, container, adopted = await asyncio.to_thread(_create_or_adopt, spec, say)
    if adopted:
        say(f"adopting the running container {spec.name} ({container.short_id})")
    return await asyncio.to_thread(_handle, client, container, loop)


def _create_or_adopt(spec: ContainerSpec, say: Callable[[str], None]) -> tuple[Any, Any, bool]:
    import docker.errors

    client = engine()
    try:
        existing = client.containers.get(spec.name)
    except docker.errors.NotFound:
        existing = None
    if existing is not None:
        owner = (existing.labels or {}).get(LABEL)
        if owner != spec.stack:
            raise StackError(
                f"a container named {spec.name!r} exists and is not this panel's "
                f"({'labelled for another installation' if owner else 'no label'}): "
                "set runner.docker.container_name to another name, or remove that container"
            )
        if existing.status == "running":
            return client, existing, True
        existing.remove(force=True)
    _ensure_image(client, spec.image, say)
    requests = _device_requests(client, spec, say)
    volume = spec.models_volume
    target = "/root/.ollama"
    kwargs: dict[str, Any] = {
        "name": spec.name,
        "detach": True,
        "labels": {LABEL: spec.stack},
        "environment": dict(spec.env),
        "volumes": {volume: {"bind": target, "mode": "rw"}},
        "device_requests": requests or None,
    }
    if spec.network == "host":
        kwargs["network_mode"] = "host"
        kwargs["environment"]["OLLAMA_HOST"] = f"127.0.0.1:{spec.port}"
    else:
        kwargs["ports"] = {f"{OLLAMA_PORT_IN_CONTAINER}/tcp": ("127.0.0.1", spec.port)}
        kwargs["environment"]["OLLAMA_HOST"] = f"0.0.0.0:{OLLAMA_PORT_IN_CONTAINER}"
    try:
        container = client.containers.run(spec.image, **kwargs)
    except docker.errors.DockerException as exc:
        raise StackError(f"the Docker engine did not start {spec.name}: {exc}") from exc
    say(f"started container {spec.name} ({container.short_id}) from {spec.image}")
    return client, container, False


def _ensure_image(client: Any, image: str, say: Callable[[str], None]) -> None:
    import docker.errors

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    repository, _, tag = image.partition(":")
    say(f"pulling {image}…")
    last = 0.0
    try:
        for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if "error" in event:
                raise StackError(f"could not pull {image}: {event['error']}")
            detail = event.get("progressDetail") or {}
            now = time.monotonic()
            if detail.get("total") and now - last < 1.0:
                continue  # a progress line a second per layer at most
            last = now
            done = (
                f" {detail['current'] / 1e6:.0f}/{detail['total'] / 1e6:.0f} MB"
                if detail.get("total")
                else ""
            )
            say(f"pull {event.get('id', '')} {event.get('status', '')}{done}".strip())
    except docker.errors.DockerException as exc:
        raise StackError(
            f"could not pull {image}: {exc} (no network, or an unknown image name?)"
        ) from exc


def _device_requests(client: Any, spec: ContainerSpec, say: Callable[[str], None]) -> list[Any]:
    import docker.types

    if spec.gpus == "none":
        say("runner.docker.gpus = none: the runner uses the CPU")
        return []
    if spec.gpus == "auto" and not has_nvidia_runtime(client):
        say("no NVIDIA runtime in the Docker engine: the runner uses the CPU")
        return []
    if spec.gpus in ("auto", "all"):
        return [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
    ids = spec.gpus.split(",")
    return [docker.types.DeviceRequest(device_ids=ids, capabilities=[["gpu"]])]


def _handle(client: Any, container: Any, loop: asyncio.AbstractEventLoop) -> ProcessHandle:
    container.reload()
    pid = int(container.attrs["State"].get("Pid") or 0)
    create_time = time.time()
    if pid and is_local(client):
        with contextlib.suppress(psutil.Error):
            create_time = psutil.Process(pid).create_time()
    else:
        pid = 0  # a remote engine's process ids mean nothing here
    output = asyncio.StreamReader(limit=1 << 20, loop=loop)
    threading.Thread(
        target=_pump_logs, args=(container, output, loop), name="container-logs", daemon=True
    ).start()

    async def wait() -> int | None:
        result = await asyncio.to_thread(container.wait)
        return int(result.get("StatusCode", -1))

    async def stop(grace_s: float) -> None:
        await asyncio.to_thread(_stop_and_remove, container, grace_s)

    return ProcessHandle(pid, create_time, output, wait, stop=stop)


def _pump_logs(
    container: Any, output: asyncio.StreamReader, loop: asyncio.AbstractEventLoop
) -> None:
    """The container's log stream, fed to the service's reader (ends with the container)."""
    try:
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            loop.call_soon_threadsafe(output.feed_data, chunk)
    except Exception as exc:  # the engine went away: the log ends, the wait reports it
        log.debug("log stream of %s ended: %s", container.name, exc)
    finally:
        with contextlib.suppress(RuntimeError):  # the loop may be closed at exit
            loop.call_soon_threadsafe(output.feed_eof)


def _stop_and_remove(container: Any, grace_s: float) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        container.stop(timeout=int(grace_s))
        container.remove(force=True)


def engine_reachable() -> bool:
    try:
        engine()
    except StackError:
        return False
    return True
