"""Which profiles exist and which one is active, read without pydantic or tomlkit: the
window's start needs the active profile's name before anything else (the profile store,
which validates profiles, takes about 300 ms to import)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from elite_panel.core.paths import AppPaths

DEFAULT = "default"


def active_file(paths: AppPaths) -> Path:
    """Where the profile chosen with ``elite-panel config use`` is kept."""
    return paths.config / "active_profile"


def names(paths: AppPaths) -> list[str]:
    """The profiles that exist (``default`` always does: it is written on first use)."""
    found = {p.stem for p in paths.profiles.glob("*.toml")}
    return sorted(found | {DEFAULT})


def chosen(paths: AppPaths) -> str | None:
    """The name kept by ``config use``, if any (it may name a profile deleted since)."""
    try:
        return active_file(paths).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def active(paths: AppPaths, environ: Mapping[str, str]) -> str:
    """``$ELITE_PROFILE``, else the chosen one while it exists, else ``default``."""
    if environ.get("ELITE_PROFILE"):
        return environ["ELITE_PROFILE"]
    name = chosen(paths)
    return name if name in names(paths) else DEFAULT
