"""Server settings, from the environment (pydantic-settings).

Names follow the deployment guide the product grew from where they fit
(``OLLAMA_BASE_URL``, ``OPENAI_API_KEY``, ``LOG_LEVEL``); everything else is ``ASSISTANT_*``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SYSTEM_PROMPT = (
    "You are Elite Coding Assistant, a careful senior software engineer. Answer concisely, "
    "show code in fenced blocks with the language named, and say when you are unsure."
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", extra="ignore", populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_token: SecretStr = SecretStr("")
    backend: Literal["ollama", "openai"] = "ollama"
    backend_url: str = Field(
        default="http://127.0.0.1:11434",
        validation_alias=AliasChoices("ASSISTANT_BACKEND_URL", "OLLAMA_BASE_URL"),
    )
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("OPENAI_API_KEY")
    )
    data_dir: Path = Path("data")
    default_model: str = ""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL"))

    @model_validator(mode="after")
    def _token_required_off_loopback(self) -> Settings:
        if not self.api_token.get_secret_value() and not _is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without ASSISTANT_API_TOKEN: "
                "set a token or bind 127.0.0.1"
            )
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
