"""What the window keeps between starts, in ``window.ini`` of the config folder: its
geometry, its splitters' positions, the light or dark scheme it last showed, and whether
the welcome guide was left."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from elite_panel.core.paths import AppPaths


def layout_settings(paths: AppPaths) -> QSettings:
    """The window's kept state (an INI file: readable, and backed up with the config)."""
    return QSettings(str(paths.config / "window.ini"), QSettings.Format.IniFormat)


def first_run(paths: AppPaths, profile_name: str) -> bool:
    """No profile yet and the welcome guide never left: the guide opens first."""
    never_left = not layout_settings(paths).value("welcome/done", False, type=bool)
    return never_left and not (paths.profiles / f"{profile_name}.toml").exists()


def leave_welcome(paths: AppPaths) -> None:
    """The welcome guide was left (finished or skipped): later starts open on the chat."""
    layout_settings(paths).setValue("welcome/done", True)


def start_page(paths: AppPaths, profile_name: str, asked: str | None) -> str | None:
    """The page the window opens on: the one asked for, else the welcome guide at the
    first run, else (None) the one it shows."""
    return asked or ("welcome" if first_run(paths, profile_name) else None)


def kept_scheme(paths: AppPaths) -> str:
    """The scheme the window last showed (``light`` or ``dark``), else ``auto``."""
    scheme = layout_settings(paths).value("theme/scheme", "auto", type=str)
    return scheme if scheme in ("light", "dark") else "auto"


def keep_scheme(paths: AppPaths, scheme: str) -> None:
    """Keep the scheme the window shows now, for its next first paint."""
    layout_settings(paths).setValue("theme/scheme", scheme)
