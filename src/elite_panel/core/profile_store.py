"""Profiles as files: list, create, duplicate, rename, delete, switch, edit safely.

Edits go through :mod:`tomlkit`, which keeps the user's comments and layout, and are
validated before anything is written; writes are atomic. The editor passes the text it
loaded as ``expected`` so that a file changed on disk meanwhile is not overwritten.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from pydantic import BaseModel

from elite_panel.core.atomic import write_atomic
from elite_panel.core.errors import ConfigConflict, ConfigError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import (
    DEFAULT_PROFILE_TOML,
    Profile,
    env_overrides,
    env_var_name,
    load_profile,
    profile_path,
    validate_text,
)

DEFAULT = "default"
# Which services a change of each section needs restarted (the runner's address is also
# the assistant's backend, so a runner change restarts both).
RESTARTS = {
    "runner": ("runner", "assistant"),
    "assistant": ("assistant",),
    "logging": ("assistant",),
}


@dataclass(frozen=True)
class Change:
    key: str
    old: Any
    new: Any


class ProfileStore:
    def __init__(self, paths: AppPaths, environ: Mapping[str, str] | None = None) -> None:
        self.paths = paths
        self.environ = os.environ if environ is None else environ

    @property
    def _active_file(self) -> Path:
        return self.paths.config / "active_profile"

    # -- the list -----------------------------------------------------------------------

    def names(self) -> list[str]:
        found = {p.stem for p in self.paths.profiles.glob("*.toml")}
        return sorted(found | {DEFAULT})

    def active(self) -> str:
        """``$ELITE_PROFILE``, else the one chosen with :meth:`use`, else ``default``."""
        if self.environ.get("ELITE_PROFILE"):
            return self.environ["ELITE_PROFILE"]
        try:
            name = self._active_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return DEFAULT
        return name if name in self.names() else DEFAULT

    def use(self, name: str) -> None:
        self.load(name)  # exists and is valid
        write_atomic(self._active_file, name + "\n")

    def path(self, name: str) -> Path:
        return profile_path(self.paths, name)

    def exists(self, name: str) -> bool:
        return self.path(name).exists() or name == DEFAULT

    def load(self, name: str) -> Profile:
        return load_profile(self.paths, name, self.environ)

    def text(self, name: str) -> str:
        if not self.path(name).exists():
            self.load(name)  # writes the default profile
        return self.path(name).read_text(encoding="utf-8")

    def create(self, name: str, source: str | None = None) -> None:
        """A new profile: the defaults, or a copy of ``source`` (comments and all)."""
        target = self.path(name)
        if target.exists():
            raise ConfigError(f"profile {name!r} already exists")
        text = self.text(source) if source else DEFAULT_PROFILE_TOML
        write_atomic(target, text, mode=0o644)

    def rename(self, old: str, new: str) -> None:
        if old == DEFAULT:
            raise ConfigError("the default profile cannot be renamed: duplicate it instead")
        if not self.path(old).exists():
            raise ConfigError(f"profile {old!r} does not exist")
        if self.path(new).exists():
            raise ConfigError(f"profile {new!r} already exists")
        os.replace(self.path(old), self.path(new))
        if self._chosen() == old:
            write_atomic(self._active_file, new + "\n")

    def delete(self, name: str) -> None:
        if name == DEFAULT:
            raise ConfigError("the default profile cannot be deleted")
        if name == self.active():
            raise ConfigError(f"profile {name!r} is in use: switch to another one first")
        if not self.path(name).exists():
            raise ConfigError(f"profile {name!r} does not exist")
        self.path(name).unlink()

    def _chosen(self) -> str | None:
        try:
            return self._active_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    # -- editing ------------------------------------------------------------------------

    def save_text(self, name: str, text: str, expected: str | None = None) -> Profile:
        """Validate ``text`` and write it; refused (file unchanged) when invalid, or when
        the file no longer holds ``expected``."""
        target = self.path(name)
        profile = validate_text(text, target, self.environ)
        on_disk = target.read_text(encoding="utf-8") if target.exists() else None
        if expected is not None and on_disk is not None and on_disk != expected:
            raise ConfigConflict(
                f"{target} changed on disk since it was opened: reload it, then apply "
                "your changes again"
            )
        write_atomic(target, text, mode=0o644)
        return profile

    def set_value(self, name: str, key: str, raw: str) -> Profile:
        """``section.key = raw`` (a TOML value, or else a plain string), validated first."""
        section, _, field = key.partition(".")
        if not field or "." in field:
            raise ConfigError(f"{key!r}: give SECTION.KEY, for example runner.kind")
        known = Profile.model_fields
        if section not in known:
            raise ConfigError(f"{key}: unknown section {section!r} (known: {', '.join(known)})")
        section_model = known[section].annotation
        assert isinstance(section_model, type) and issubclass(section_model, BaseModel)
        if field not in section_model.model_fields:
            fields = ", ".join(section_model.model_fields)
            raise ConfigError(f"{key}: unknown key {field!r} in [{section}] (known: {fields})")
        text = self.text(name)
        try:
            document = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(f"{self.path(name)}: invalid TOML: {exc}") from exc
        table = document.get(section)
        if table is None:
            table = tomlkit.table()
            document[section] = table
        table[field] = parse_value(raw)
        try:
            return self.save_text(name, tomlkit.dumps(document), expected=text)
        except ConfigError as exc:
            raise ConfigError(f"not saved, the profile is unchanged: {exc}") from exc

    def export(self, name: str, destination: Path) -> None:
        """A copy of the profile's file (profiles never hold secrets)."""
        self.load(name)
        shutil.copyfile(self.path(name), destination)

    def import_file(self, source: Path, name: str | None = None) -> str:
        """Validate ``source`` and add it as a profile (named after the file by default)."""
        name = name or source.stem
        if self.path(name).exists():
            raise ConfigError(f"profile {name!r} already exists: import it under another name")
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read it ({exc})") from exc
        validate_text(text, source, {})
        write_atomic(self.path(name), text, mode=0o644)
        return name

    # -- where each value comes from, and what a change touches -----------------------

    def sources(self, name: str) -> dict[str, str]:
        """``section.key`` → ``default``, ``profile file`` or ``$VARIABLE``."""
        data = tomllib.loads(self.text(name))
        overrides = env_overrides(self.environ)
        out = {}
        for section, key in schema_keys():
            if key in overrides.get(section, {}):
                out[f"{section}.{key}"] = "$" + env_var_name(section, key)
            elif key in (data.get(section) or {}):
                out[f"{section}.{key}"] = "profile file"
            else:
                out[f"{section}.{key}"] = "default"
        return out


def schema_keys() -> Iterator[tuple[str, str]]:
    for section, info in Profile.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for key in model.model_fields:
            yield section, key


def parse_value(raw: str) -> Any:
    """``8001`` → 8001, ``true`` → True, ``"x"`` → "x", anything else → the text itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def diff(old: Profile, new: Profile) -> list[Change]:
    changes = []
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    for section, key in schema_keys():
        a, b = before[section][key], after[section][key]
        if a != b:
            changes.append(Change(f"{section}.{key}", a, b))
    return changes


def services_to_restart(changes: list[Change]) -> list[str]:
    wanted = {s for c in changes for s in RESTARTS.get(c.key.partition(".")[0], ())}
    return [s for s in ("runner", "assistant") if s in wanted]
