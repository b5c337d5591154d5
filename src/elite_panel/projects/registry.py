"""The projects the user indexed: their names and folders (``projects.json`` in the
configuration folder) and where each one's index lives (``projects/NAME/index.sqlite``
in the data folder, which the backups hold)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths
from embedded_server.backups.files import write_atomic

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Project:
    """A project: its name and its folder."""

    name: str
    root: Path


class ProjectRegistry:
    """The list of projects of this installation."""

    def __init__(self, paths: AppPaths) -> None:
        self.paths = paths
        self.file = paths.config / "projects.json"

    def projects(self) -> list[Project]:
        try:
            entries = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise EliteError(f"{self.file} is not a list of projects: {exc}") from exc
        return [Project(e["name"], Path(e["root"])) for e in entries]

    def get(self, name: str) -> Project:
        for project in self.projects():
            if project.name == name:
                return project
        known = ", ".join(p.name for p in self.projects()) or "none yet"
        raise EliteError(f"no project named {name!r} (projects: {known})", "not_found")

    def add(self, root: Path, name: str | None = None) -> Project:
        """Register the folder ``root`` (named after it by default)."""
        folder = root.expanduser().resolve()
        if not folder.is_dir():
            raise EliteError(f"{root} is not a folder")
        name = name or re.sub(r"[^A-Za-z0-9_.-]", "-", folder.name).lstrip(".-_") or "project"
        if not NAME.match(name):
            raise EliteError(f"{name!r} is not a project name (letters, digits, . _ -)")
        projects = self.projects()
        if any(p.name == name for p in projects):
            raise EliteError(f"a project named {name!r} exists: choose another with --name")
        if any(p.root == folder for p in projects):
            raise EliteError(f"{folder} is indexed already")
        project = Project(name, folder)
        self._write([*projects, project])
        return project

    def remove(self, name: str) -> Project:
        """Forget ``name`` and delete its index (the project's own files are not touched)."""
        project = self.get(name)
        self._write([p for p in self.projects() if p.name != name])
        shutil.rmtree(self.index_folder(name), ignore_errors=True)
        return project

    def index_folder(self, name: str) -> Path:
        return self.paths.data / "projects" / name

    def index_path(self, name: str) -> Path:
        return self.index_folder(name) / "index.sqlite"

    def _write(self, projects: list[Project]) -> None:
        entries = [{"name": p.name, "root": str(p.root)} for p in projects]
        self.file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.file, json.dumps(entries, indent=2) + "\n")
