"""Profiles as files: list, create, duplicate, rename, delete, switch, edit safely.

Edits go through :mod:`tomlkit`, which keeps the user's comments and layout, and are
validated before anything is written; writes are atomic. The editor passes the text it
loaded as ``expected`` so that a file changed on disk meanwhile is not overwritten.
"""

from __future__ import annotations

import enum
import os
import shutil
import tomllib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from pydantic import BaseModel, ValidationError

from elite_panel.core import profile_names
from elite_panel.core.errors import ConfigConflict, ConfigError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profile_names import DEFAULT
from elite_panel.core.profiles import (
    DEFAULT_PROFILE_TOML,
    Profile,
    env_overrides,
    env_var_name,
    load_profile,
    overridden,
    profile_path,
    validate_text,
)
from embedded_server.backups.files import write_atomic

# Which services a change of each section needs restarted (the runner's address is also
# the assistant's backend, so a runner change restarts both).
RESTARTS = {
    "runner": ("runner", "assistant"),
    "assistant": ("assistant",),
    "logging": ("assistant",),
}


@dataclass(frozen=True)
class Change:
    """One key that differs between two versions of a profile."""

    key: str
    old: Any
    new: Any


class ProfileStore:
    """The profile files: list, create, copy, rename, delete, edit, choose the active one."""

    def __init__(self, paths: AppPaths, environ: Mapping[str, str] | None = None) -> None:
        self.paths = paths
        self.environ = os.environ if environ is None else environ

    @property
    def _active_file(self) -> Path:
        return profile_names.active_file(self.paths)

    # -- the list -----------------------------------------------------------------------

    def names(self) -> list[str]:
        return profile_names.names(self.paths)

    def active(self) -> str:
        """``$ELITE_PROFILE``, else the one chosen with :meth:`use`, else ``default``."""
        return profile_names.active(self.paths, self.environ)

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
        if profile_names.chosen(self.paths) == old:
            write_atomic(self._active_file, new + "\n")

    def delete(self, name: str) -> None:
        if name == DEFAULT:
            raise ConfigError("the default profile cannot be deleted")
        if name == self.active():
            raise ConfigError(f"profile {name!r} is in use: switch to another one first")
        if not self.path(name).exists():
            raise ConfigError(f"profile {name!r} does not exist")
        self.path(name).unlink()

    # -- editing ------------------------------------------------------------------------

    def save_text(self, name: str, text: str, expected: str | None = None) -> Profile:
        """Validate ``text`` and write it; refused (file unchanged) when invalid, or when
        the file no longer holds ``expected``."""
        target = self.path(name)
        # The file alone first: a variable overriding a key hides the file's value from
        # the merged view, and the file must hold where that variable is absent.
        validate_text(text, target, {})
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
        return self.set_values(name, {key: raw})

    def set_values(self, name: str, raw_values: Mapping[str, str]) -> Profile:
        """Several keys at once: all are written, or (on any error) none."""
        for key in raw_values:
            _check_key(key)
        text = self.text(name)
        values = {key: parse_value(raw) for key, raw in raw_values.items()}
        updated = with_values(text, values, self.path(name))
        try:
            return self.save_text(name, updated, expected=text)
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
        for parts in schema_keys():
            if overridden(overrides, parts):
                out[".".join(parts)] = "$" + env_var_name(*parts)
            elif overridden(data, parts):
                out[".".join(parts)] = "profile file"
            else:
                out[".".join(parts)] = "default"
        return out


def _check_key(key: str) -> None:
    parts = key.split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"{key!r}: give SECTION.KEY, for example runner.kind")
    known = [".".join(p) for p in schema_keys()]
    if key in known:
        return
    if parts[0] not in Profile.model_fields:
        sections = ", ".join(Profile.model_fields)
        raise ConfigError(f"{key}: unknown section {parts[0]!r} (known: {sections})")
    prefix = ".".join(parts[:-1]) + "."
    siblings = [k.removeprefix(prefix) for k in known if k.startswith(prefix)]
    where = ".".join(parts[:-1])
    raise ConfigError(
        f"{key}: unknown key {parts[-1]!r} in [{where}] (known: {', '.join(siblings)})"
    )


def _model_at(parts: list[str] | tuple[str, ...]) -> type[BaseModel]:
    """The pydantic model of the table at ``parts`` (``("runner", "docker")``)."""
    model: type[BaseModel] = Profile
    for part in parts:
        annotation = model.model_fields[part].annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation
    return model


def schema_keys(
    model: type[BaseModel] = Profile, prefix: tuple[str, ...] = ()
) -> Iterator[list[str]]:
    """Every leaf key of the schema as its path: ``["runner", "docker", "image"]``."""
    for key, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from schema_keys(annotation, (*prefix, key))
        else:
            yield [*prefix, key]


def value_at(data: Mapping[str, Any], parts: list[str] | tuple[str, ...]) -> Any:
    node: Any = data
    for part in parts:
        node = node[part]
    return node


def with_values(text: str, values: Mapping[str, Any], path: Path | None = None) -> str:
    """``text`` with ``section.key`` set to each value (None removes the key, back to its
    default), keeping every comment and the layout of the rest."""
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path or 'profile'}: invalid TOML: {exc}") from exc
    for key, value in values.items():
        *tables, field = key.split(".")
        table: Any = document
        for name in tables:
            child = table.get(name)
            if child is None:
                if value is None:
                    break
                child = tomlkit.table()
                table[name] = child
            table = child
        else:
            if value is None:
                table.pop(field, None)
            else:
                table[field] = value
    return tomlkit.dumps(document)


@dataclass(frozen=True)
class FieldDoc:
    """One profile key as the settings form shows it."""

    section: str
    key: str
    kind: str  # "bool", "choice", "number", "text" or "table" (a sub-table: TOML view only)
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    optional: bool = False

    @property
    def path(self) -> str:
        return f"{self.section}.{self.key}"


def schema_fields() -> list[FieldDoc]:
    docs = []
    for parts in schema_keys():
        info = _model_at(parts[:-1]).model_fields[parts[-1]]
        args = [a for a in typing.get_args(info.annotation) if a is not type(None)]
        base = args[0] if len(args) == 1 else info.annotation
        optional = type(None) in typing.get_args(info.annotation)
        choices: tuple[str, ...] = ()
        if isinstance(base, type) and issubclass(base, enum.Enum):
            kind, choices = "choice", tuple(str(m.value) for m in base)
        elif typing.get_origin(base) is typing.Literal:
            kind, choices = "choice", tuple(str(a) for a in typing.get_args(base))
        elif typing.get_origin(base) is dict:
            kind = "table"  # edited in the TOML view
        elif base is bool:
            kind = "bool"
        elif base in (int, float):
            kind = "number"
        else:
            kind = "text"
        default = info.get_default(call_default_factory=True)  # {} for a table, not a sentinel
        default = default.value if isinstance(default, enum.Enum) else default
        section = ".".join(parts[:-1])
        docs.append(
            FieldDoc(section, parts[-1], kind, default, info.description or "", choices, optional)
        )
    return docs


def field_value(doc: FieldDoc, raw: Any) -> Any:
    """What the form's widget holds, as the TOML value to write (None: back to default)."""
    if doc.kind != "number":
        return raw
    text = str(raw).strip()
    if not text:
        return None if doc.optional else doc.default
    return parse_value(text)


def field_error(doc: FieldDoc, value: Any) -> str | None:
    """The schema's complaint about one value, checked alone (inline validation)."""
    model = _model_at(doc.section.split("."))
    try:
        model.model_validate({} if value is None else {doc.key: value})
    except ValidationError as exc:
        return "; ".join(e["msg"] for e in exc.errors())
    return None


def parse_value(raw: str) -> Any:
    """``8001`` → 8001, ``true`` → True, ``"x"`` → "x", anything else → the text itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def diff(old: Profile, new: Profile) -> list[Change]:
    changes = []
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    for parts in schema_keys():
        a, b = value_at(before, parts), value_at(after, parts)
        if a != b:
            changes.append(Change(".".join(parts), a, b))
    return changes


def services_to_restart(changes: list[Change]) -> list[str]:
    wanted = {s for c in changes for s in RESTARTS.get(c.key.partition(".")[0], ())}
    return [s for s in ("runner", "assistant") if s in wanted]
