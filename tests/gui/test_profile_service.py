"""The profile service: the active profile loaded off the window's thread, its changes seen
whoever makes them (the file is watched), a broken file reported while the last good
profile stays, a switch to another profile."""

from __future__ import annotations

import asyncio

import pytest
from pytestqt.qtbot import QtBot

from elite_panel.adapters.profile_service import ProfileService
from elite_panel.core.errors import ConfigError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profile_store import ProfileStore
from elite_panel.core.profiles import Profile
from tests.conftest import Home

pytestmark = pytest.mark.gui


def run(loop: asyncio.AbstractEventLoop, qtbot: QtBot, coro: object) -> object:
    task = asyncio.ensure_future(coro, loop=loop)  # type: ignore[arg-type]
    qtbot.waitUntil(task.done, timeout=10_000)
    return task.result()


def test_the_active_profile_is_loaded_watched_and_switched(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, home: Home
) -> None:
    service = ProfileService(AppPaths.from_env(home.env), "default", environ={})
    seen: list[Profile] = []
    service.changed.connect(seen.append)
    profile = run(qloop, qtbot, service.load())
    assert isinstance(profile, Profile) and seen == [profile] and service.current == profile
    run(qloop, qtbot, service.load())
    assert len(seen) == 1  # the same profile again: no change to tell

    # Another process edits it (as `elite-panel config set` does): the change is seen.
    set_port = home.cli("config", "set", "assistant.port", "8123")
    assert set_port.returncode == 0, set_port.stderr
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
    assert seen[-1].assistant.port == 8123

    # A broken edit: reported, and the last good profile stays.
    failures: list[str] = []
    service.failed.connect(failures.append)
    path = service.paths.config / "profiles" / "default.toml"
    path.write_text(path.read_text().replace("port = 8123", "port = 'eighty'"))
    qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
    assert "assistant.port" in failures[-1] and service.current == seen[-1]
    with pytest.raises(ConfigError):
        run(qloop, qtbot, service.load())

    # Saved through the service: all or nothing, then loaded.
    path.write_text(path.read_text().replace("port = 'eighty'", "port = 8124"))
    qtbot.waitUntil(lambda: seen[-1].assistant.port == 8124, timeout=10_000)
    saved = run(qloop, qtbot, service.set_values({"assistant.port": "8125"}))
    assert isinstance(saved, Profile) and saved.assistant.port == 8125

    # Another profile: switched, then loaded.
    ProfileStore(service.paths, {}).create("gpu", source="default")
    switched: list[str] = []
    service.switched.connect(switched.append)
    service.use("gpu")
    assert switched == ["gpu"] and service.name == "gpu"
    qtbot.waitUntil(lambda: service.current is not None, timeout=10_000)
    service.close()
