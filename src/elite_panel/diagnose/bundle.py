"""The support bundle: a zip to attach to a bug report (versions, the doctor's report,
the newest logs, the profile, GPU facts), every secret this machine knows and every
secret-shaped string removed, written 0600."""

from __future__ import annotations

import contextlib
import json
import platform
import re
import sys
import zipfile
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from elite_panel import __version__
from elite_panel.core.paths import AppPaths
from elite_panel.core.redaction import REDACTED, Redactor
from elite_panel.diagnose.checks import Check, gpu_check

LOG_LINES = 2000  # of each log, the newest, in a bundle
# Secret-shaped text a log may hold though no store knows it: bearer tokens, our API keys,
# hosted providers' keys, passwords in URLs, key=value pairs naming a secret.
SECRET_SHAPES = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beca_[A-Za-z0-9_-]{8,}"),
    re.compile(r"\b(?:sk|pk|rk|hf|ghp|gho|xox[abp])[-_][A-Za-z0-9_-]{8,}"),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    re.compile(
        r"(?i)((?<![A-Za-z0-9_])(?:api[_-]?key|token|password|passwd|secret)[\"']?\s*[:=]\s*"
        r"[\"']?)[^\s\"',]{4,}"
    ),
)
SECRET_KEYS = re.compile(r"(?i)(key|token|password|passwd|secret)")


def scrubber(paths: AppPaths) -> Redactor:
    """A redactor of every secret value this machine knows (environment and keyring)."""
    from elite_panel.core.secret_store import SecretStore

    store = SecretStore(paths)
    values = []
    for name in store.names():
        with contextlib.suppress(Exception):  # a failing keyring: the environment's still
            value, _source = store.lookup(name)
            if value:
                values.append(value)
    return Redactor(values)


def scrub(text: str, redactor: Redactor) -> str:
    """``text`` without the known secrets and without secret-shaped strings."""
    text = redactor(text)
    for shape in SECRET_SHAPES:
        text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


def write_bundle(target: Path, paths: AppPaths, profile_name: str, checks: list[Check]) -> Path:
    """The support bundle at ``target`` (a zip), every member scrubbed of secrets."""
    redactor = scrubber(paths)
    versions = {
        "elite-coding-assistant": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for package in ("elite-assistant-server", "PySide6", "llama_cpp_python", "ollama", "httpx"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    members = {
        "versions.json": json.dumps(versions, indent=2),
        "doctor.json": json.dumps([asdict(c) for c in checks], indent=2),
        # the check made above (NVML opened once), or now where the profile stopped it
        "gpu.json": json.dumps(
            asdict(next((c for c in checks if c.name == "gpu"), None) or gpu_check()), indent=2
        ),
    }
    profile_file = paths.profiles / f"{profile_name}.toml"
    if profile_file.is_file():
        lines = profile_file.read_text(encoding="utf-8", errors="replace").splitlines()
        members[f"profile-{profile_name}.toml"] = "\n".join(_scrub_setting(line) for line in lines)
    for log in sorted(paths.logs.glob("*.log")):
        newest = log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_LINES:]
        members[f"logs/{log.name}"] = "\n".join(newest)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in members.items():
            bundle.writestr(name, scrub(text, redactor) + "\n")
    target.chmod(0o600)
    return target


def _scrub_setting(line: str) -> str:
    """A profile line with the value of a key naming a secret removed (its name kept)."""
    key, sep, _value = line.partition("=")
    if sep and SECRET_KEYS.search(key) and not key.strip().endswith("_secret"):
        return f'{key}= "{REDACTED}"'
    return line
