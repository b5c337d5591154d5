"""The client of a team's server (``[stack] mode = "remote"``): its URL, its API key from
the secrets (keyring or environment), its certificate checked, against its own CA if set."""

from __future__ import annotations

import ssl
from pathlib import Path

from elite_panel.client.assistant import AssistantClient
from elite_panel.core.errors import EliteError
from elite_panel.core.profiles import Profile
from elite_panel.core.secret_store import SecretStore


def tls_verify(profile: Profile) -> bool | ssl.SSLContext:
    """What to check the server's certificate against: the system's CAs, the profile's
    CA file, or nothing (``verify_tls = false``)."""
    remote = profile.remote
    if not remote.verify_tls:
        return False
    if not remote.ca_file:
        return True
    path = Path(remote.ca_file).expanduser()
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise EliteError(
            f"[remote] ca_file {path} is not a readable PEM certificate ({exc})"
        ) from exc


def remote_credentials(
    profile: Profile, secrets: SecretStore
) -> tuple[str, str, bool | ssl.SSLContext]:
    """``profile``'s server: its URL, the API key from the secrets and what its certificate
    is checked against; raises EliteError without a key."""
    name = profile.remote.api_key_secret
    key, _source = secrets.lookup(name)
    if not key:
        raise EliteError(
            f"no API key for {profile.remote.url}: `elite-panel secrets set {name}` (or set "
            f"{name} in the environment)"
        )
    return profile.remote.url.rstrip("/"), key, tls_verify(profile)


def remote_client(profile: Profile, secrets: SecretStore) -> AssistantClient:
    """A client of ``profile``'s remote server; raises EliteError without a key."""
    url, key, verify = remote_credentials(profile, secrets)
    return AssistantClient(url, key, verify=verify)
