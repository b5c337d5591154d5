"""Secrets in the OS keyring (Secret Service, macOS Keychain, Windows Credential Locker).

Values live in the keyring under the service name ``elite-coding-assistant`` and nowhere
else: never in a profile, a state file, a log or a backup. The names of custom secrets are
kept in ``<config>/secret_names.json`` (names only) because keyrings cannot list entries.
A value can also come from the environment of the panel (or of the command), which then
wins over the keyring, as environment variables win over profile keys.

No usable keyring (none running, a plaintext or null backend, a locked one) is a
:class:`KeyringUnavailable` with what to install or unlock; there is no file fallback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

from elite_panel.core import redaction
from elite_panel.core.errors import ConfigError, KeyringUnavailable
from elite_panel.core.paths import AppPaths
from embedded_server.backups.files import write_atomic

KEYRING_SERVICE = "elite-coding-assistant"
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
RUNNER, ASSISTANT = "runner", "assistant"
# Backends that would keep a value in a file we can read, or nowhere at all.
_REFUSED_BACKENDS = ("keyrings.alt", "keyring.backends.fail", "keyring.backends.null")
NO_KEYRING = (
    "no OS keyring is available: install and start a Secret Service provider "
    "(GNOME Keyring or KWallet; on a server: `apt install gnome-keyring dbus` and run inside "
    "a D-Bus session), then unlock it. Until then secrets come only from the environment; "
    "they are never written to a file."
)


@dataclass(frozen=True)
class SecretInfo:
    """A known secret: what it is for and which services get it."""

    name: str
    description: str
    services: tuple[str, ...]


KNOWN_SECRETS = {
    info.name: info
    for info in (
        SecretInfo("OPENAI_API_KEY", "API key of OpenAI or another hosted backend", (ASSISTANT,)),
        SecretInfo("SECRET_KEY", "the assistant server's signing key", (ASSISTANT,)),
        SecretInfo("SUPABASE_KEY", "Supabase anon key", (ASSISTANT,)),
        SecretInfo("SUPABASE_SERVICE_KEY", "Supabase service-role key", (ASSISTANT,)),
        SecretInfo("REDIS_PASSWORD", "password of the shared Redis", (ASSISTANT,)),
        SecretInfo("HF_TOKEN", "Hugging Face token, for gated model downloads", (RUNNER,)),
    )
}
CUSTOM_SERVICES = (RUNNER, ASSISTANT)


@dataclass(frozen=True)
class SecretEntry:
    """What may be shown of a secret: never its value, at most its last 4 characters."""

    name: str
    description: str
    services: tuple[str, ...]
    source: str | None  # "keyring", "environment", or None when unset
    last4: str | None

    @property
    def is_set(self) -> bool:
        return self.source is not None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "services": list(self.services), "set": self.is_set}


def check_name(name: str) -> str:
    if not SECRET_NAME.match(name):
        raise ConfigError(
            f"invalid secret name {name!r}: use upper-case letters, digits and '_' "
            "(like OPENAI_API_KEY), starting with a letter"
        )
    return name


def info_for(name: str) -> SecretInfo:
    return KNOWN_SECRETS.get(name) or SecretInfo(name, "custom secret", CUSTOM_SERVICES)


class SecretStore:
    """The secrets of one installation. Every call may block (an unlock prompt): the panel
    runs them off the UI thread."""

    def __init__(
        self,
        paths: AppPaths,
        environ: Mapping[str, str] | None = None,
        service: str | None = None,
    ) -> None:
        self.paths = paths
        self.environ = os.environ if environ is None else environ
        self.service = service or self.environ.get("ELITE_KEYRING_SERVICE") or KEYRING_SERVICE
        self._backend: KeyringBackend | None = None

    # -- the keyring --------------------------------------------------------------------

    def backend(self) -> KeyringBackend:
        """The keyring in use; raises :class:`KeyringUnavailable` when there is none we
        accept, or when it is locked."""
        if self._backend is None:
            chosen = keyring.get_keyring()
            candidates = getattr(chosen, "backends", None) or [chosen]
            usable = [b for b in candidates if not type(b).__module__.startswith(_REFUSED_BACKENDS)]
            if not usable:
                raise KeyringUnavailable(NO_KEYRING)
            self._backend = usable[0]
        return self._backend

    def available(self) -> str | None:
        """None when the keyring works, else the message saying why not."""
        try:
            self._keyring_get("__probe__")
        except KeyringUnavailable as exc:
            return str(exc)
        return None

    def _keyring_get(self, name: str) -> str | None:
        try:
            return self.backend().get_password(self.service, name)
        except keyring.errors.KeyringLocked as exc:
            raise KeyringUnavailable(
                "the OS keyring is locked: unlock it (log in to the desktop session, or "
                "`gnome-keyring-daemon --unlock`) and try again"
            ) from exc
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(f"{NO_KEYRING} ({exc})") from exc

    # -- names --------------------------------------------------------------------------

    @property
    def _names_file(self) -> Any:
        return self.paths.config / "secret_names.json"

    def custom_names(self) -> list[str]:
        try:
            data = json.loads(self._names_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return []
        names = data.get("custom", []) if isinstance(data, dict) else []
        return sorted({n for n in names if isinstance(n, str) and SECRET_NAME.match(n)})

    def names(self) -> list[str]:
        custom = [n for n in self.custom_names() if n not in KNOWN_SECRETS]
        return [*KNOWN_SECRETS, *custom]

    def _save_custom(self, names: list[str]) -> None:
        body = json.dumps({"custom": sorted(set(names))}, indent=2) + "\n"
        write_atomic(self._names_file, body)

    # -- values -------------------------------------------------------------------------

    def lookup(self, name: str, keyring_ok: bool = True) -> tuple[str | None, str | None]:
        """(value, source): the environment first, then the keyring."""
        value, source = self.environ.get(name), "environment"
        if not value and keyring_ok:
            value, source = self._keyring_get(name), "keyring"
        if not value:
            return None, None
        redaction.known.add([value])  # from now on, no log line of this process shows it
        return value, source

    def entries(self) -> tuple[list[SecretEntry], str | None]:
        """Every known or custom secret, and the keyring's problem (None when it works)."""
        problem = self.available()
        out = []
        for name in self.names():
            value, source = self.lookup(name, keyring_ok=problem is None)
            info = info_for(name)
            last4 = value[-4:] if value and len(value) >= 8 else None
            out.append(SecretEntry(name, info.description, info.services, source, last4))
        return out, problem

    def names_set(self) -> list[str]:
        """The names of the secrets that have a value now (from either source)."""
        entries, _problem = self.entries()
        return [e.name for e in entries if e.is_set]

    def reveal(self, name: str) -> str | None:
        return self.lookup(check_name(name))[0]

    def set(self, name: str, value: str) -> None:
        check_name(name)
        if not value:
            raise ConfigError(f"{name}: an empty value; use `secrets delete {name}` to remove it")
        backend = self.backend()
        redaction.known.add([value])
        try:
            backend.set_password(self.service, name, value)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(f"could not store {name} in the keyring: {exc}") from exc
        if name not in KNOWN_SECRETS and name not in self.custom_names():
            self._save_custom([*self.custom_names(), name])

    def delete(self, name: str) -> bool:
        """Remove a secret from the keyring; False when it was not there."""
        check_name(name)
        backend = self.backend()
        removed = True
        try:
            backend.delete_password(self.service, name)
        except keyring.errors.PasswordDeleteError:
            removed = False
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(f"could not delete {name}: {exc}") from exc
        if name in self.custom_names():
            self._save_custom([n for n in self.custom_names() if n != name])
        return removed

    def for_services(self) -> tuple[dict[str, dict[str, str]], str | None]:
        """The environment each service gets, and the keyring's problem if any: a missing
        keyring leaves the secrets of the environment, it does not stop the stack."""
        problem = self.available()
        env: dict[str, dict[str, str]] = {RUNNER: {}, ASSISTANT: {}}
        for name in self.names():
            value, _source = self.lookup(name, keyring_ok=problem is None)
            if value:
                for service in info_for(name).services:
                    env[service][name] = value
        return env, problem


def main() -> int:
    """Print each service's secrets and the keyring's problem as JSON (``python -m
    elite_panel.core.secret_store``): how the supervisor reads them, in a child process it
    can kill if the keyring hangs, so that the keyring's D-Bus and crypto libraries never
    stay in the long-lived supervisor."""
    import sys

    redaction.install()
    store = SecretStore(AppPaths.from_env())
    try:
        env, problem = store.for_services()
    except (KeyringUnavailable, ConfigError) as exc:
        env, problem = {}, str(exc)
    sys.stdout.write(json.dumps({"env": env, "problem": problem}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
