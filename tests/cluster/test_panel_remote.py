"""The panel on a team's server: the cluster (three replicas, a runner pool) behind nginx
with TLS from a certificate the test makes, followed by a running panel switched from its
local profile to a remote one and back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.ui.pages.backups_page import BackupsPage
from elite_panel.ui.pages.chat_page import ChatPage
from elite_panel.ui.pages.models_page import ModelsPage
from elite_panel.ui.pages.settings_page import SettingsPage
from elite_panel.ui.pages.stack_page import StackPage
from elite_panel.ui.widgets.lazy_page import LazyPage
from tests.cluster.topology import Cluster
from tests.conftest import Home
from tests.deploy.compose_nginx import compose_nginx
from tests.deploy.test_monitoring import need
from tests.gui.conftest import panel, qloop  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.model, pytest.mark.gui, pytest.mark.xdist_group("cluster")]


@pytest.fixture
def tls_cluster(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(the https URL of the Compose nginx in front of the cluster, its CA certificate)."""
    need("openssl")
    cluster.whole()
    with compose_nginx(tmp_path / "tls", cluster.url) as url:
        yield url, tmp_path / "tls" / "certs" / "tls.crt"


def page(window: Panel, name: str) -> object:
    """The window's page ``name``, shown (and so built)."""
    window.window.show_page(name)
    lazy = window.window.pages[name]
    return lazy.build() if isinstance(lazy, LazyPage) else lazy


def test_the_panel_follows_a_team_server(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,  # noqa: F811
    home: Home,
    panel: Panel,  # noqa: F811
    cluster: Cluster,
    tls_cluster: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, ca = tls_cluster
    key = cluster.server_command("keys", "create", "panel-dev").stdout.strip()
    monkeypatch.setenv("ASSISTANT_API_KEY", key)
    home.env["ASSISTANT_API_KEY"] = key
    profiles = home.root / "config" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    for name, ca_file in (("team", str(ca)), ("team-no-ca", "")):
        (profiles / f"{name}.toml").write_text(
            f'[stack]\nmode = "remote"\n\n[remote]\nurl = "{url}"\nca_file = "{ca_file}"\n'
        )
    panel.show("stack")
    panel.check_profile()
    stack = page(panel, "stack")
    assert isinstance(stack, StackPage)
    assert stack.views.currentIndex() == 0  # the local profile: the local stack's cards

    settings = page(panel, "settings")
    assert isinstance(settings, SettingsPage)
    qtbot.waitUntil(lambda: settings.profiles.count() == 3, timeout=10_000)
    settings._select("team")
    settings._use()  # "Use" on the Settings page: switched in the running panel
    page(panel, "stack")
    qtbot.waitUntil(lambda: stack.remote.runners.rowCount() == 3, timeout=20_000)
    assert stack.views.currentIndex() == 1
    assert stack.remote.badge.text() == "ready" and stack.remote.status.isHidden()
    assert panel.window.stack_state.text() == f"Team server {url}: ready"
    assert "panel-dev" in stack.remote.identity.text()
    states = {
        stack.remote.runners.item(r, 0).text(): stack.remote.runners.item(r, 2).text()
        for r in range(3)
    }
    assert states == {"ollama-a": "up", "ollama-b": "up", "builtin": "up"}

    backups = page(panel, "backups")
    assert isinstance(backups, BackupsPage)
    assert not backups.remote_note.isHidden() and url in backups.remote_note.text()

    cluster.runners["ollama-b"].kill()

    def row_state(name: str) -> str:
        rows = stack.remote.runners
        return next(
            rows.item(r, 2).text() for r in range(rows.rowCount()) if rows.item(r, 0).text() == name
        )

    qtbot.waitUntil(lambda: row_state("ollama-b") == "down", timeout=20_000)

    chat = page(panel, "chat")
    assert isinstance(chat, ChatPage)
    qtbot.waitUntil(lambda: chat.chat.client is not None, timeout=10_000)
    chat.ask("write a loop", "llama3.2")
    qtbot.waitUntil(
        lambda: (
            chat.thread_view.answer is not None
            and "tokens" in chat.thread_view.answer.figures.text()
        ),
        timeout=30_000,
    )
    assert chat.thread_view.answer is not None and chat.thread_view.answer.text()

    models = page(panel, "models")
    assert isinstance(models, ModelsPage)
    assert not models.pull_button.isEnabled()
    assert "admin token" in models.pull_button.toolTip()

    page(panel, "settings")

    def shown() -> list[str]:
        return [w.text() for w in settings.findChildren(QLabel) + settings.findChildren(QLineEdit)]

    qtbot.waitUntil(lambda: url in shown(), timeout=10_000)  # the active profile, loaded
    assert "ASSISTANT_API_KEY" in shown() and not any(key in text for text in shown())

    # The commands against the same cluster, with the same key.
    answer = home.cli("--profile", "team", "chat", "--model", "llama3.2", "hi")
    assert answer.returncode == 0 and answer.stdout.strip(), answer.stderr
    loaded = home.cli("--profile", "team", "models", "ps")
    assert loaded.returncode == 0, loaded.stderr

    assert cluster.server_command("keys", "revoke", "panel-dev").returncode == 0
    qtbot.waitUntil(lambda: "refused the key" in stack.remote.status.text(), timeout=20_000)

    panel.profile.use("team-no-ca")
    page(panel, "stack")
    qtbot.waitUntil(lambda: "does not verify" in stack.remote.status.text(), timeout=20_000)
    assert "ca_file" in stack.remote.status.text()
    assert key not in stack.remote.status.text()

    page(panel, "settings")
    settings._select("default")
    settings._use()  # back to the local stack
    qtbot.waitUntil(lambda: stack.views.currentIndex() == 0, timeout=10_000)
    assert panel.window.stack_state.text() == "Stack: stopped"
    assert backups.remote_note.isHidden()
    assert not home.processes()  # nothing was started on this machine
    assert key not in caplog.text
