"""Where the panel keeps its files.

All paths come from platformdirs (app name ``elite-coding-assistant``).  ``ELITE_HOME=DIR``
redirects every one of them under DIR, which is how tests and portable installs isolate
themselves.  Directories are created on first use with owner-only permissions where they
hold anything private (runtime: the control socket and the stack token).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from elite_panel import APP_NAME


@dataclass(frozen=True)
class AppPaths:
    """The folders of one installation (or of one ``ELITE_HOME``)."""

    config: Path
    data: Path
    state: Path
    logs: Path
    runtime: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AppPaths:
        env = os.environ if environ is None else environ
        home = env.get("ELITE_HOME")
        if home:
            root = Path(home).expanduser().resolve()
            return cls(
                config=root / "config",
                data=root / "data",
                state=root / "state",
                logs=root / "logs",
                runtime=root / "run",
            )
        return cls(
            config=platformdirs.user_config_path(APP_NAME),
            data=platformdirs.user_data_path(APP_NAME),
            state=platformdirs.user_state_path(APP_NAME),
            logs=platformdirs.user_log_path(APP_NAME),
            runtime=_runtime_dir(),
        )

    def folders(self) -> dict[str, Path]:
        """The folders that hold the user's things (what an uninstall leaves), by name."""
        return {"config": self.config, "data": self.data, "state": self.state, "logs": self.logs}

    @property
    def profiles(self) -> Path:
        return self.config / "profiles"

    @property
    def control_socket(self) -> Path:
        return self.runtime / "supervisor.sock"

    @property
    def daemon_lock(self) -> Path:
        return self.runtime / "supervisor.lock"

    @property
    def token_file(self) -> Path:
        return self.runtime / "assistant.token"

    @property
    def state_file(self) -> Path:
        return self.state / "stack.json"

    @property
    def models(self) -> Path:
        """The built-in runner's imported GGUF files."""
        return self.data / "models"

    @property
    def embedding(self) -> Path:
        """The bundled embedding model as the built-in runner reads it (converted here)."""
        return self.data / "embedding"

    @property
    def server_data(self) -> Path:
        return self.data / "server"

    def database_url(self, environ: Mapping[str, str]) -> str:
        """The assistant server's database: ``ASSISTANT_DATABASE_URL``, else
        ``DATABASE_URL``, else SQLite in its data folder. The supervisor gives this URL to
        the server it starts and backups read it: one rule."""
        url = environ.get("ASSISTANT_DATABASE_URL") or environ.get("DATABASE_URL")
        return url or f"sqlite:///{self.server_data / 'assistant.db'}"

    def ensure(self) -> AppPaths:
        """Create every folder; private ones (runtime, state) are 0700."""
        for path in (self.config, self.profiles, self.data, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        for path in (self.state, self.runtime):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)
        return self


def _runtime_dir() -> Path:
    """XDG runtime dir when the session has one, else a private folder in the temp dir.

    Without ``XDG_RUNTIME_DIR`` (a plain SSH or container shell) platformdirs would warn on
    every command and guess a path; the fallback is chosen here instead, quietly.
    """
    fallback = Path(tempfile.gettempdir()) / f"{APP_NAME}-{os.getuid()}"
    if sys.platform.startswith("linux") and not os.environ.get("XDG_RUNTIME_DIR"):
        return fallback
    candidate = platformdirs.user_runtime_path(APP_NAME)
    if candidate.parent.is_dir() and os.access(candidate.parent, os.W_OK):
        return candidate
    return fallback
