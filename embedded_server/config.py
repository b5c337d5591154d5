"""Server settings, from the environment (pydantic-settings).

Names follow the deployment guide the product grew from where they fit
(``OLLAMA_BASE_URL``, ``OPENAI_API_KEY``, ``DATABASE_URL``, ``REDIS_URL``, ``LOG_LEVEL``,
``LOG_FORMAT``); everything else is ``ASSISTANT_*``.  Invalid values stop the server at
start with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from embedded_server.db.engine import driver_url
from embedded_server.key_limits import DEFAULT_RATE_LIMIT, KeyLimits, checked_rate_limit

DEFAULT_SYSTEM_PROMPT = (
    "You are Elite Coding Assistant, a careful senior software engineer. Answer concisely, "
    "show code in fenced blocks with the language named, and say when you are unsure."
)
# The deployment guide's limits: 60 requests a minute and 1000 an hour per client.


RunnerKind = Literal["ollama", "openai"]
# What a chat does with a prompt longer than its model's window (services.context).
ContextPolicy = Literal["drop_oldest", "truncate_middle", "refuse"]


class RunnerSpec(BaseModel):
    """One runner of the pool (an item of ``ASSISTANT_RUNNERS``)."""

    url: str
    kind: RunnerKind = "ollama"
    api_key: SecretStr = SecretStr("")
    weight: float = Field(default=1.0, gt=0)
    # The window it runs its models with, when its API does not say (an OpenAI-compatible
    # server's /v1/models seldom does); Ollama reports its own.
    context_length: int | None = Field(default=None, gt=0)
    # Requests it takes at once (OLLAMA_NUM_PARALLEL, llama.cpp's --parallel); default
    # ASSISTANT_RUNNER_SLOTS. More wait in the fair queue.
    slots: int | None = Field(default=None, ge=1, le=1024)
    name: str = ""  # how /api/runners and /metrics call it; default the URL's host:port

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be a URL such as http://gpu-1:11434")
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("put the runner's credentials in api_key, not in its URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _default_name(self) -> RunnerSpec:
        if not self.name:
            self.name = self.url.split("://", 1)[1].split("/", 1)[0]
        return self


# Settings that are secrets: each may also be read from a file named by its variable with
# _FILE appended (the Docker and Kubernetes secret-volume convention).
SECRET_FIELDS = ("api_token", "openai_api_key", "database_url", "redis_url", "runners")


class SecretFiles(PydanticBaseSettingsSource):
    """``ASSISTANT_API_TOKEN_FILE=/run/secrets/token`` (and so on for each secret):
    the file's text, without its final newline. Setting a secret both ways is refused."""

    def __init__(self, settings_cls: type[BaseSettings], environ: dict[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[object, str, bool]:
        for name in _variables(field, field_name):
            path = self.environ.get(f"{name}_FILE")
            if not path:
                continue
            if self.environ.get(name):
                raise ValueError(f"set {name} or {name}_FILE, not both")
            try:
                text = Path(path).read_text(encoding="utf-8").removesuffix("\n")
            except OSError as exc:
                raise ValueError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc
            return text, field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for field_name in SECRET_FIELDS:
            field = self.settings_cls.model_fields[field_name]
            value, _key, _complex = self.get_field_value(field, field_name)
            if value is not None:
                values[field_name] = value
        return values


def _variables(field: FieldInfo, field_name: str) -> list[str]:
    """The environment variables a field is read from."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"ASSISTANT_{field_name.upper()}"]


class Settings(BaseSettings):
    """The server's settings, from ``ASSISTANT_*`` and the guide's variables (a secret also
    from a file: ``ASSISTANT_API_TOKEN_FILE``, ``ASSISTANT_DATABASE_URL_FILE``, …)."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", extra="ignore", populate_by_name=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        files = SecretFiles(settings_cls, dict(os.environ))
        return init_settings, env_settings, files, dotenv_settings, file_secret_settings

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_token: SecretStr = SecretStr("")
    backend: RunnerKind = "ollama"
    backend_url: str = Field(
        default="http://127.0.0.1:11434",
        validation_alias=AliasChoices("ASSISTANT_BACKEND_URL", "OLLAMA_BASE_URL"),
    )
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("OPENAI_API_KEY")
    )
    # The pool: a JSON list of runners; empty = the one runner above (the local stack's).
    runners: Annotated[list[RunnerSpec], NoDecode] = Field(default_factory=list)
    runner_check_interval_s: float = Field(default=5.0, gt=0)
    runner_failures: int = Field(default=2, ge=1)  # consecutive failures that take one out
    runner_cooldown_s: float = Field(default=10.0, ge=0)  # out at least this long
    # A runner that does not connect, send its first token, or its next one in time fails
    # the request (and counts against its health). The first token waits for the whole
    # prompt to be read: minutes for a long one on a CPU.
    runner_connect_timeout_s: float = Field(default=5.0, gt=0)
    runner_first_token_timeout_s: float = Field(default=300.0, gt=0)
    runner_token_timeout_s: float = Field(default=60.0, gt=0)
    # The fair queue (backends.pool): each runner's requests at once, the requests that may
    # wait for a slot, and for how long.
    runner_slots: int = Field(default=4, ge=1, le=1024)
    max_queue: int = Field(default=256, ge=0)
    queue_timeout_s: float = Field(default=300.0, gt=0)
    # The one runner's window (the built-in runner's runner.context_tokens); see RunnerSpec.
    backend_context_length: int | None = Field(default=None, gt=0)
    # What /api/chat does when a conversation outgrows its model's window (per request too),
    # and the room kept for the answer when a request gives no max_tokens (at most a
    # quarter of the window).
    context_policy: ContextPolicy = "drop_oldest"
    context_reserve_tokens: int = Field(default=1024, ge=0)
    # The largest num_ctx a request may ask of a runner (a larger window reloads the model
    # with more memory, for everyone).
    max_context_tokens: int = Field(default=32768, ge=256)
    # The limits of every API key that sets none of its own (see KeyLimits).
    key_defaults: KeyLimits = Field(default_factory=KeyLimits)
    # Peers whose X-Forwarded-For is believed (addresses or networks, comma-separated).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The Host names a request may carry (a wrong one: 400); the local stack allows its
    # loopback names only (a DNS-rebinding page then cannot reach it), "*" any.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    # /openapi.json for anyone (a desktop's server), or for the admin token only (the
    # shipped Compose and Kubernetes files: the API's map is no stranger's business).
    openapi_public: bool = True
    # Clients that may read /metrics (addresses or networks): Prometheus in a container
    # network scrapes from one; the default is this machine only.
    metrics_clients: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1"]
    )
    # /metrics on a port of their own (0: on the API's port, a desktop's server), which
    # nginx and the Ingress do not route; the API's port then answers /metrics with 404.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Log what callers ask, word for word (logger embedded_server.prompts): off, as a
    # prompt may hold code or secrets the caller pasted; the access lines never do.
    log_prompts: bool = False
    data_dir: Path = Path("data")
    # The built-in runner's GGUF folder (imports go there), its bundled model and its
    # bundled embedding model (never deleted); set by the supervisor when the runner is the
    # built-in one.
    models_dir: Path | None = None
    bundled_model: Path | None = None
    bundled_embedding_model: Path | None = None
    database_url: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("ASSISTANT_DATABASE_URL", "DATABASE_URL"),
    )
    redis_url: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("ASSISTANT_REDIS_URL", "REDIS_URL")
    )
    # `elite-assistant-server backup`: where archives go (default <data_dir>/backups) and
    # what `backup prune` keeps (restic's --keep-last and --keep-daily).
    backup_dir: Path | None = None
    backup_keep_last: int = Field(default=10, ge=0)
    backup_keep_daily: int = Field(default=7, ge=0)
    # Off-site: each archive ``backup create`` makes is also uploaded to this bucket
    # (s3://BUCKET/PREFIX) and read back, and ``backup prune`` applies there too.
    backup_to: str = ""
    rate_limit: str = DEFAULT_RATE_LIMIT
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    default_model: str = ""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    record_openai: bool = True  # keep /v1/chat/completions answers as conversations
    cors_origins: list[str] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL")
    )
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=AliasChoices("ASSISTANT_LOG_FORMAT", "LOG_FORMAT")
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("trusted_proxies", "metrics_clients", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for item in value:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{item!r} is not an address or network") from exc
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("runners", mode="before")
    @classmethod
    def _runner_list(cls, value: object) -> object:
        """A JSON list (empty: none, as Compose passes an unset variable)."""
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not a JSON list of runners: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _unique_runner_names(self) -> Settings:
        names = [runner.name for runner in self.runners]
        if len(names) != len(set(names)):
            raise ValueError("ASSISTANT_RUNNERS: two runners have the same name")
        return self

    @model_validator(mode="after")
    def _metrics_port_apart(self) -> Settings:
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError("ASSISTANT_METRICS_PORT must differ from ASSISTANT_PORT (or be 0)")
        return self

    def runner_specs(self) -> list[RunnerSpec]:
        """The pool's runners: ``ASSISTANT_RUNNERS``, or the one runner of
        ``ASSISTANT_BACKEND``/``ASSISTANT_BACKEND_URL``."""
        if self.runners:
            return self.runners
        return [
            RunnerSpec(
                url=self.backend_url,
                kind=self.backend,
                api_key=self.openai_api_key,
                context_length=self.backend_context_length,
            )
        ]

    @field_validator("rate_limit")
    @classmethod
    def _parse_rate_limit(cls, value: str) -> str:
        return checked_rate_limit(value)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url:
            if "://" not in url:
                raise ValueError("must be a URL such as postgresql://user:pass@host/db")
            driver_url(url)  # raises for anything but SQLite and PostgreSQL
        return value

    @field_validator("backup_to")
    @classmethod
    def _bucket_url(cls, value: str) -> str:
        return check_bucket_url(value) if value else value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and not url.startswith(("redis://", "rediss://", "unix://", "redis+cluster://")):
            raise ValueError(
                "must be a URL such as redis://host:6379/0, or for a Redis Cluster "
                "redis+cluster://[:PASSWORD@]HOST:PORT,HOST:PORT,..."
            )
        return value

    @model_validator(mode="after")
    def _token_required_off_loopback(self) -> Settings:
        if not self.api_token.get_secret_value() and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without ASSISTANT_API_TOKEN: "
                "set a token or bind 127.0.0.1"
            )
        return self

    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to SQLite in the data folder."""
        url = self.database_url.get_secret_value()
        return url or f"sqlite:///{self.data_dir.resolve() / 'assistant.db'}"


BUCKET_URL = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?")


def check_bucket_url(url: str) -> str:
    """``url`` if it names a bucket (``s3://BUCKET`` or ``s3://BUCKET/PREFIX``); raises
    ValueError saying what is wrong."""
    if not BUCKET_URL.fullmatch(url):
        raise ValueError(f"{url!r} is not s3://BUCKET/PREFIX (a bucket's name: a-z, 0-9, '.', '-')")
    return url


def in_networks(host: str, networks: list[str]) -> bool:
    """Whether address ``host`` is in one of ``networks`` (addresses or CIDR networks)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
