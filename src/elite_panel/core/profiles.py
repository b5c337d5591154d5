"""Configuration profiles: named TOML files validated by a pydantic schema.

A profile lives at ``<config>/profiles/<name>.toml``; ``default`` is written on first use.
Every key can be overridden by an environment variable ``ELITE_<SECTION>__<KEY>`` (for
example ``ELITE_RUNNER__KIND=builtin``).  Invalid values raise :class:`ConfigError` naming
the key, the value and where it came from: the file and line, or the variable.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from elite_panel.core.errors import ConfigError
from elite_panel.core.kinds import RunnerKind
from elite_panel.core.paths import AppPaths
from embedded_server.backups.files import write_atomic

ENV_PREFIX = "ELITE_"
ENV_NESTED = "__"
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

OLLAMA_DEFAULT_PORT = 11434
BUILTIN_DEFAULT_PORT = 11435


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DockerSettings(_Section):
    """Ollama as a container of the Docker engine (``runner.kind = "docker"``)."""

    enabled: bool = Field(
        default=False, description="let runner.kind = auto use Docker when no native Ollama"
    )
    image: str = Field(default="ollama/ollama:latest", description="pulled when missing")
    container_name: str = Field(
        default="elite-ollama",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$",
        description="we only ever touch a container of this name that carries our label",
    )
    models_volume: str = Field(
        default="elite-ollama-models",
        description="a named volume, or an absolute host folder, for /root/.ollama",
    )
    gpus: str = Field(
        default="auto",
        pattern=r"^(auto|all|none|\d+(,\d+)*)$",
        description="auto (NVIDIA when the engine has its runtime), all, none, or ids: 0,1",
    )
    network: Literal["bridge", "host"] = Field(
        default="bridge",
        description="bridge publishes the port on 127.0.0.1 only; host shares the host's",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="extra environment (OLLAMA_KEEP_ALIVE, OLLAMA_NUM_PARALLEL...)",
    )


class RunnerSettings(_Section):
    """The ``[runner]`` section: which runner, where, and with what model."""

    kind: RunnerKind = Field(
        default=RunnerKind.AUTO,
        description="auto, builtin (llama.cpp, bundled model), ollama, docker, or external",
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="11434 for Ollama, 11435 for built-in if empty"
    )
    url: str = Field(default="", description="the runner's URL, for kind = external")
    model: str = Field(default="", description="built-in runner: a GGUF file; empty = bundled")
    context_tokens: int | None = Field(
        default=None,
        ge=256,
        le=1_048_576,
        description=(
            "context window in tokens: the built-in runner starts with it (empty = each "
            "model's trained window, 8192 for the bundled model); for an external or "
            "OpenAI-compatible runner, the window it runs with when it does not say"
        ),
    )
    docker: DockerSettings = Field(default_factory=DockerSettings)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    def port_for(self, kind: RunnerKind) -> int:
        """The configured port, else the usual one of that runner."""
        if self.port is not None:
            return self.port
        return BUILTIN_DEFAULT_PORT if kind is RunnerKind.BUILTIN else OLLAMA_DEFAULT_PORT


class AssistantSettings(_Section):
    """The ``[assistant]`` section: the assistant server's port and default model."""

    port: int = Field(default=8000, ge=1, le=65535, description="loopback port of the server")
    default_model: str = Field(default="", description="model used when a chat names none")


class StackSettings(_Section):
    """The ``[stack]`` section: local or remote, start and stop limits, quitting behaviour."""

    mode: Literal["local", "remote"] = Field(
        default="local",
        description="local: run the stack here; remote: use the server of [remote]",
    )
    stop_on_quit: bool = Field(default=True, description="stop the stack when the panel quits")
    start_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, description="seconds a service may take to become ready"
    )


class RemoteSettings(_Section):
    """The ``[remote]`` section: a team's assistant server (``[stack] mode = "remote"``)."""

    url: str = Field(
        default="",
        pattern=r"^(|https?://\S+)$",
        description="the server, or the nginx in front of it: https://assistant.example.com",
    )
    api_key_secret: str = Field(
        default="ASSISTANT_API_KEY",
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="the secret (keyring or environment) that holds the API key",
    )
    verify_tls: bool = Field(default=True, description="check the server's certificate")
    ca_file: str = Field(
        default="", description="the CA that signed the server's certificate (PEM file)"
    )
    prometheus_url: str = Field(
        default="", pattern=r"^(|https?://\S+)$", description="the cluster's Prometheus"
    )


class DashboardSettings(_Section):
    """Sampling and alert thresholds (the alert defaults are the deployment guide's rules)."""

    sample_interval_s: float = Field(
        default=1.0, ge=0.2, le=60, description="seconds between samples of the dashboard"
    )
    cpu_percent: float = Field(default=80.0, gt=0, le=100, description="HighCPUUsage above this")
    memory_percent: float = Field(
        default=85.0, gt=0, le=100, description="HighMemoryUsage above this"
    )
    sustained_s: float = Field(
        default=300.0, ge=0, description="how long CPU, memory or latency must stay high"
    )
    service_down_s: float = Field(
        default=60.0, ge=0, description="ApplicationDown after a service is down this long"
    )
    latency_p95_s: float = Field(default=2.0, gt=0, description="HighResponseTime above this")
    gpu_temperature_c: float = Field(
        default=85.0, gt=0, description="GpuTemperatureHigh above this (°C)"
    )
    vram_percent: float = Field(default=95.0, gt=0, le=100, description="VramAlmostFull above this")
    gpu_for_s: float = Field(
        default=60.0, ge=0, description="how long a GPU must stay hot or full before an alert"
    )
    exporter_listen: str = Field(
        default="",
        pattern=r"^(|\[?[A-Za-z0-9.:-]*\]?:\d{1,5})$",
        description="HOST:PORT: serve these figures to Prometheus while the stack is up "
        "(empty = off)",
    )


class BackupSettings(_Section):
    """Where backups go, how many are kept (as restic's ``forget``), and their schedule."""

    folder: str = Field(default="", description="where archives go; empty = <data>/backups")
    include_logs: bool = Field(default=False, description="add the log files to each backup")
    keep_last: int = Field(default=10, ge=0, description="keep the newest N backups (0 = off)")
    keep_daily: int = Field(
        default=7, ge=0, description="and the newest backup of each of the last D days"
    )
    schedule: Literal["off", "daily", "interval"] = Field(
        default="off", description="run by the supervisor while the stack is up"
    )
    daily_at: str = Field(
        default="03:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local time"
    )
    every_hours: float = Field(default=6.0, gt=0, le=168, description="for schedule = interval")
    offsite: str = Field(
        default="",
        description="s3://BUCKET/PREFIX: each backup also uploaded there and read back, the "
        "retention applied there too (keys: AWS_* variables or ~/.aws/credentials)",
    )

    @field_validator("offsite")
    @classmethod
    def _bucket(cls, value: str) -> str:
        from embedded_server.backups.offsite import check_bucket_url

        return check_bucket_url(value) if value else value


class LoggingSettings(_Section):
    """The ``[logging]`` section: level and format of the services' logs."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="how much the assistant server logs"
    )
    format: Literal["text", "json"] = Field(
        default="text", description="the assistant server's log lines: text or JSON"
    )
    max_mb: int = Field(
        default=10, ge=1, le=10_000, description="each log file rotates at this size (MB)"
    )
    keep: int = Field(
        default=3, ge=0, le=100, description="rotated files kept of each log (0: none)"
    )


class WindowSettings(_Section):
    """The ``[window]`` section: how the panel looks."""

    theme: Literal["auto", "light", "dark"] = Field(
        default="auto", description="light or dark; auto follows the desktop's scheme"
    )


class ProjectSettings(_Section):
    """The ``[projects]`` section: the project index and what the chat takes from it."""

    embedding_model: str = Field(
        default="all-minilm",
        min_length=1,
        description="the model the index is embedded with (the bundled one; Ollama's too)",
    )
    context_share: float = Field(
        default=0.4,
        gt=0,
        le=0.8,
        description="the most of a model's window the chat gives to a project's code",
    )
    editor: str = Field(
        default="",
        description="opens a citation: a command with {file} and {line}; empty = $VISUAL, "
        "then VS Code (code -g), then the desktop's default",
    )
    watch: bool = Field(default=True, description="re-index a project's files as they change")


class Profile(_Section):
    """The whole validated configuration of one profile."""

    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    remote: RemoteSettings = Field(default_factory=RemoteSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    backups: BackupSettings = Field(default_factory=BackupSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    window: WindowSettings = Field(default_factory=WindowSettings)
    projects: ProjectSettings = Field(default_factory=ProjectSettings)

    @model_validator(mode="after")
    def _remote_needs_its_url(self) -> Profile:
        if self.stack.mode == "remote" and not self.remote.url:
            raise ValueError('stack.mode = "remote" needs remote.url, the server\'s address')
        return self


DEFAULT_PROFILE_TOML = """\
# Elite Coding Assistant profile. Every key can be overridden by an environment variable:
# ELITE_<SECTION>__<KEY>, for example ELITE_RUNNER__KIND=builtin.

[runner]
# auto: an `ollama` binary on PATH, else an Ollama already answering, else Docker (when
# [runner.docker] enabled), else the built-in llama.cpp runner with its bundled model.
# Or: builtin, ollama, docker, external.
kind = "auto"
# port = 11435          # default: 11434 for Ollama, 11435 for the built-in runner
# url = "http://127.0.0.1:11434"   # for kind = "external"
model = ""              # built-in runner: a GGUF file; empty = the bundled SmolLM2

[runner.docker]         # kind = "docker": Ollama as a container of the Docker engine
enabled = false         # may kind = "auto" choose Docker?
# image = "ollama/ollama:latest"
# container_name = "elite-ollama"
# models_volume = "elite-ollama-models"   # a named volume, or an absolute host folder
# gpus = "auto"         # auto (NVIDIA if the engine has its runtime) | all | none | "0,1"
# network = "bridge"    # bridge (port on 127.0.0.1 only) | host
# env = { OLLAMA_KEEP_ALIVE = "30m" }

[assistant]
port = 8000

[stack]
# mode = "local"        # local: run the stack here; remote: use the server of [remote]
stop_on_quit = true

[remote]                # a team's server (mode = "remote"); nothing is started here
# url = "https://assistant.example.com"
# api_key_secret = "ASSISTANT_API_KEY"   # elite-panel secrets set ASSISTANT_API_KEY
# verify_tls = true
# ca_file = ""          # the CA of a certificate your system does not trust
# prometheus_url = ""

[dashboard]
sample_interval_s = 1.0
# Alerts (defaults: the deployment guide's rules)
# cpu_percent = 80.0        # HighCPUUsage, held for sustained_s
# memory_percent = 85.0     # HighMemoryUsage, held for sustained_s
# sustained_s = 300.0
# service_down_s = 60.0     # ApplicationDown
# latency_p95_s = 2.0       # HighResponseTime, held for sustained_s
# gpu_temperature_c = 85.0  # GpuTemperatureHigh, held for gpu_for_s
# vram_percent = 95.0       # VramAlmostFull, held for gpu_for_s
# gpu_for_s = 60.0

[backups]
# folder = ""           # default: <data>/backups
include_logs = false
keep_last = 10          # keep the newest 10 backups...
keep_daily = 7          # ...and the newest of each of the last 7 days
schedule = "off"        # off, daily (at daily_at) or interval (every every_hours)
# daily_at = "03:00"
# every_hours = 6.0

[logging]
level = "INFO"          # DEBUG, INFO, WARNING or ERROR
format = "text"         # the assistant server's lines: text or json

[window]
theme = "auto"          # auto (the desktop's light or dark scheme), light or dark
"""


def profile_path(paths: AppPaths, name: str) -> Path:
    if not PROFILE_NAME.match(name):
        raise ConfigError(
            f"invalid profile name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return paths.profiles / f"{name}.toml"


def load_profile(
    paths: AppPaths, name: str = "default", environ: Mapping[str, str] | None = None
) -> Profile:
    """Read, merge with the environment and validate a profile.

    The ``default`` profile is created when missing; any other missing profile is an error.
    """
    env = os.environ if environ is None else environ
    path = profile_path(paths, name)
    if not path.exists():
        if name != "default":
            raise ConfigError(f"profile {name!r} does not exist ({path})")
        write_atomic(path, DEFAULT_PROFILE_TOML)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    return validate_text(text, path, env)


def validate_text(text: str, path: Path, environ: Mapping[str, str] | None = None) -> Profile:
    """A profile's text, merged with the environment's overrides and validated.

    Raises:
        ConfigError: invalid TOML (with its line and column), or invalid values, each
            named by key path with the file and line (or the variable) it came from.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    overrides = env_overrides(os.environ if environ is None else environ)
    merged = _merge(data, overrides)
    try:
        return Profile.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path, text, overrides)) from exc


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``ELITE_RUNNER__KIND=x`` → ``{"runner": {"kind": "x"}}`` (and deeper:
    ``ELITE_RUNNER__DOCKER__IMAGE``), for known sections only.

    Other ``ELITE_*`` variables (``ELITE_HOME``, ``ELITE_PROFILE``) are not profile keys.
    """
    sections = set(Profile.model_fields)
    out: dict[str, Any] = {}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or ENV_NESTED not in var:
            continue
        parts = var[len(ENV_PREFIX) :].lower().split(ENV_NESTED)
        if parts[0] not in sections or not all(parts):
            continue
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                break
        else:
            target[parts[-1]] = value
    return out


def env_var_name(*parts: str) -> str:
    return ENV_PREFIX + ENV_NESTED.join(p.upper() for p in parts)


def overridden(overrides: Mapping[str, Any], parts: list[str]) -> bool:
    """Whether an environment variable sets the key at ``parts``."""
    node: Any = overrides
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, Mapping)


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        elif isinstance(value, Mapping):
            merged[key] = _merge({}, value)
        else:
            merged[key] = value
    return merged


def _explain(exc: ValidationError, path: Path, text: str, overrides: Mapping[str, Any]) -> str:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc)
        value = error.get("input")
        if overridden(overrides, loc):
            origin = f"environment variable {env_var_name(*loc)}"
        else:
            line = _find_line(text, loc)
            origin = f"{path}:{line}" if line else str(path)
        shown = "" if isinstance(value, dict) else f" = {value!r}"
        problems.append(f"{key}{shown}: {error['msg']} (from {origin})")
    return "invalid profile: " + "; ".join(problems)


def _find_line(text: str, loc: list[str]) -> int | None:
    """Line (1-based) where ``loc`` is set in a TOML text, for ``[section] key`` and dotted keys."""
    section: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\s*([A-Za-z0-9_.-]+)\s*\]", line)
        if header:
            section = header.group(1)
            if section.split(".") == loc:
                return number
            continue
        match = re.match(r"^([A-Za-z0-9_.\"'-]+)\s*=", line)
        if not match:
            continue
        dotted = [part.strip("\"' ") for part in match.group(1).split(".")]
        full = (section.split(".") if section else []) + dotted
        if full == loc or (len(loc) > len(full) and loc[: len(full)] == full):
            return number
    return None
