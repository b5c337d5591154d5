"""What is wrong, one check at a time, each failure with what to do: the checks behind
``elite-panel doctor`` and the window's Diagnose dialog (Qt-free; blocking parts run in
threads).

Checks: the profile, the stack and its ports, the runner and its models, the bundled
embedding model, the keyring, the free space for data, models and backups, the GPU driver
and NVML; for a team's server (a remote profile): that it answers, its certificate's
expiry and its clock against this machine's.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths

LOW_SPACE = 1 << 30
NO_SPACE = 100 << 20
CERT_WARN_DAYS = 14
CLOCK_SKEW_S = 60


@dataclass(frozen=True)
class Check:
    """One check: ``ok``, ``warn`` or ``fail``, what was found, what to do."""

    name: str
    status: str
    detail: str
    advice: str = ""


async def diagnose(paths: AppPaths, profile_name: str) -> list[Check]:
    from elite_panel.core.profiles import load_profile

    try:
        profile = load_profile(paths, profile_name)
    except EliteError as exc:
        fix = f"`elite-panel config edit` (profile {profile_name})"
        return [Check("profile", "fail", str(exc), fix)]
    checks = [Check("profile", "ok", f"{profile_name}: valid ({profile.stack.mode} mode)")]
    if profile.stack.mode == "remote":
        checks += await asyncio.to_thread(_remote, profile.remote.url)
    else:
        checks += await _local(paths, profile)
    checks.append(await asyncio.to_thread(_keyring, paths))
    checks += _space(paths, profile)
    checks.append(await asyncio.to_thread(gpu_check))
    return checks


async def _local(paths: AppPaths, profile: Any) -> list[Check]:
    from elite_panel.core.errors import DaemonUnavailable
    from elite_panel.stack.control import ControlClient

    try:
        services = {s.name: s for s in await ControlClient(paths).call("status")}
    except DaemonUnavailable:
        services = {}
    checks = []
    ready = [s for s in services.values() if s.state.value == "ready"]
    if services and len(ready) == len(services):
        checks.append(Check("stack", "ok", "up: " + ", ".join(sorted(services))))
    elif services:
        states = ", ".join(f"{s.name} {s.state.value}" for s in services.values())
        checks.append(Check("stack", "warn", states, "see `elite-panel stack logs NAME`"))
    else:
        checks.append(Check("stack", "warn", "not running", "`elite-panel stack up`"))
    runner_port = profile.runner.port_for(profile.runner.kind)
    for name, port in (("assistant", profile.assistant.port), ("runner", runner_port)):
        if port:
            checks.append(_port(name, port, name in services))
    checks.append(await asyncio.to_thread(_runner, profile))
    checks.append(_embedding_model())
    return checks


def _port(name: str, port: int, ours: bool) -> Check:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            if ours:
                return Check(f"port ({name})", "ok", f"{port}: the stack's {name}")
            return Check(
                f"port ({name})",
                "fail",
                f"{port} is taken by another program",
                f"stop it, or choose another port in the profile ({name})",
            )
    return Check(f"port ({name})", "ok", f"{port} is free")


def _runner(profile: Any) -> Check:
    from elite_panel.stack.runners import resolve_runner_kind

    try:
        kind = resolve_runner_kind(profile)
    except EliteError as exc:
        return Check("runner", "fail", str(exc), "install a runner (see the welcome guide)")
    return Check("runner", "ok", f"{kind.value} runner available")


def _embedding_model() -> Check:
    from elite_panel.stack.machine_survey import embedding

    missing = embedding()
    if missing:
        return Check("embedding model", "warn", missing, "project search needs it")
    return Check("embedding model", "ok", "all-MiniLM-L6-v2 installed (project search)")


def _keyring(paths: AppPaths) -> Check:
    from elite_panel.core.secret_store import SecretStore

    problem = SecretStore(paths).available()
    if problem:
        return Check("keyring", "warn", problem, "secrets then come from the environment only")
    return Check("keyring", "ok", "the OS keyring answers")


def _space(paths: AppPaths, profile: Any) -> list[Check]:
    from elite_panel.backup.service import backups_folder

    folders = {"data": paths.data, "models": paths.models}
    folders["backups"] = backups_folder(paths, profile)
    checks = []
    for what, folder in folders.items():
        existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
        free = shutil.disk_usage(existing).free
        status = "fail" if free < NO_SPACE else "warn" if free < LOW_SPACE else "ok"
        advice = "" if status == "ok" else "free some space (old backups: `backup prune`)"
        checks.append(
            Check(f"space ({what})", status, f"{free / 1e9:.1f} GB free in {folder}", advice)
        )
    return checks


def gpu_check() -> Check:
    from elite_panel.monitor.nvml import GpuReader

    reader = GpuReader()
    try:
        reading = reader.sample()
    finally:
        reader.close()
    if reading.gpus:
        names = ", ".join(
            f"{g.name} ({(g.memory_total_bytes or 0) / 2**30:.0f} GiB)" for g in reading.gpus
        )
        return Check("gpu", "ok", f"NVIDIA driver and NVML: {names}")
    reason = reading.unavailable_reason or "no NVIDIA GPU"
    driver = shutil.which("nvidia-smi")
    if driver:  # a driver is installed, yet NVML does not answer: that is a problem
        return Check(
            "gpu", "fail", reason, "reinstall the NVIDIA driver, or reboot after an update"
        )
    return Check("gpu", "ok", f"{reason}: models run on the CPU")


def _remote(url: str) -> list[Check]:
    import httpx

    checks = []
    try:
        answer = httpx.get(f"{url.rstrip('/')}/health", timeout=10, verify=False)
    except httpx.HTTPError as exc:
        return [Check("server", "fail", f"{url}: {exc}", "check remote.url and the network")]
    checks.append(
        Check("server", "ok" if answer.is_success else "warn", f"{url}: HTTP {answer.status_code}")
    )
    if "date" in answer.headers:
        skew = parsedate_to_datetime(answer.headers["date"]).timestamp() - time.time()
        status = "warn" if abs(skew) > CLOCK_SKEW_S else "ok"
        advice = "synchronise this machine's clock (NTP)" if status == "warn" else ""
        checks.append(Check("clock", status, f"{skew:+.0f} s from the server's", advice))
    parts = urlsplit(url)
    if parts.scheme == "https":
        checks.append(_certificate(parts.hostname or "", parts.port or 443))
    return checks


def _certificate(host: str, port: int) -> Check:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # read it, whoever signed
    try:
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except OSError as exc:
        return Check("certificate", "fail", f"{host}:{port}: {exc}", "check remote.url")
    try:
        from cryptography import x509
    except ImportError:  # (the keyring's backend brings it on Linux)
        return Check("certificate", "warn", "cannot read it here (no cryptography)")
    expires = x509.load_der_x509_certificate(der or b"").not_valid_after_utc
    days = (expires - datetime.now(UTC)).days
    status = "fail" if days < 0 else "warn" if days < CERT_WARN_DAYS else "ok"
    advice = "" if status == "ok" else "renew the server's certificate"
    return Check("certificate", status, f"expires {expires:%Y-%m-%d} ({days} days)", advice)
