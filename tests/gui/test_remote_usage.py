"""The Stack page of a remote profile shows the admin token what each key used (and a key
nothing of the others'), against a live server in front of the Ollama double."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

from elite_panel.client.assistant import AssistantClient
from elite_panel.client.server_state import RemoteState, look
from elite_panel.ui.widgets.remote_server_view import RemoteServerView
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

pytestmark = pytest.mark.gui
TOKEN = "usage-admin-token"
ASK = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    double = OllamaDouble()
    for runner in serve_in_thread(build_app(double)):
        double.url = runner
        settings = Settings(
            api_token=TOKEN, backend_url=runner, data_dir=tmp_path / "srv", rate_limit="off"
        )
        yield from serve_in_thread(create_app(settings))


def looked(url: str, token: str) -> RemoteState:
    async def ask() -> RemoteState:
        client = AssistantClient(url, token)
        try:
            return await look(client, url)
        finally:
            await client.aclose()

    return asyncio.run(ask())


def test_the_admin_sees_each_keys_use_and_a_key_sees_none(qtbot: QtBot, server: str) -> None:
    admin = {"Authorization": f"Bearer {TOKEN}"}
    key = httpx.post(f"{server}/api/keys", json={"name": "dev"}, headers=admin).json()["key"]
    for headers in ({"Authorization": f"Bearer {key}"},) * 2 + (admin,):
        assert httpx.post(f"{server}/api/chat", json=ASK, headers=headers).status_code == 200
    view = RemoteServerView()
    qtbot.addWidget(view)
    view.show()
    view.show_state(looked(server, TOKEN))
    rows = {
        view.usage.item(r, 0).text(): [view.usage.item(r, c).text() for c in range(1, 5)]
        for r in range(view.usage.rowCount())
    }
    assert set(rows) == {"dev", "(admin)"} and view.usage.isVisible()
    assert rows["dev"][:2] == ["2", "0"] and int(rows["dev"][2].replace(",", "")) > 0
    assert view.usage.item(0, 0).text() == "dev"  # the busiest first
    view.show_state(looked(server, key))
    assert view.usage.rowCount() == 0 and not view.usage.isVisible()
