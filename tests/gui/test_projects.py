"""The Projects page and @-mentions in the chat, against the real built-in runner: a
folder added and indexed with progress; ``@`` completes the project and its files; an
answer to ``@project …`` lists its sources, and a source clicked opens the file at its
line in the editor the profile names (a recorder script here)."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import httpx as httpx_package
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.ui.pages.chat_page import ChatPage
from elite_panel.ui.pages.projects_page import ProjectsPage
from elite_panel.ui.widgets.message_widget import MessageWidget, parse_citation
from tests.conftest import EMBEDDING_SERVER_TOKEN

pytestmark = [pytest.mark.gui, pytest.mark.model]
RECORDER = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(' '.join(sys.argv[2:]))"


@pytest.fixture
def opened_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The editor the profile names: a script that writes down what it was asked."""
    log = tmp_path / "opened.txt"
    script = tmp_path / "editor.py"
    script.write_text(RECORDER, encoding="utf-8")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(log))}"
    monkeypatch.setenv("ELITE_PROJECTS__EDITOR", command + " {file} {line}")
    return log


def test_index_mention_and_open_a_cited_source(
    opened_log: Path, qtbot: QtBot, panel: Panel, builtin_server: str, tmp_path: Path
) -> None:
    folder = tmp_path / "web"
    shutil.copytree(Path(httpx_package.__file__).parent, folder / "httpx")
    panel.check_profile()  # (as the window does at its start)
    qtbot.waitUntil(lambda: panel.profile.current is not None, timeout=10_000)
    assert panel.projects.editor.endswith("{file} {line}")
    # As a team's server is followed (the local stack, stopped here, is not): the index
    # and its search stay on this machine; only the embeddings are asked of the server.
    panel.chat.set_remote(True, "following the test's server")
    panel.chat.connect_to(builtin_server, EMBEDDING_SERVER_TOKEN)

    panel.show("projects")
    page = panel.window.page("projects")
    assert isinstance(page, ProjectsPage)
    assert page.empty.isVisible()  # nothing indexed yet: what the page is for, and Add
    page.choose_folder = lambda _parent: folder
    page.buttons["Add"].click()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=5_000)
    qtbot.waitUntil(lambda: "done in" in page.status.text(), timeout=60_000)
    qtbot.waitUntil(lambda: page.views[0].files > 20 and page.views[0].state == "idle")
    assert page.table.item(0, 0).text() == "web"
    qtbot.waitUntil(lambda: "watching" in page.table.item(0, 1).text(), timeout=5_000)

    panel.show("chat")
    chat = panel.window.page("chat")
    assert isinstance(chat, ChatPage)
    prompt = chat.composer.prompt
    prompt.setFocus()
    qtbot.keyClicks(prompt, "Where are cookies kept? @w")
    completer = prompt.mentions
    assert completer is not None
    qtbot.waitUntil(completer.showing, timeout=5_000)
    assert completer.model().stringList() == ["@web"]  # type: ignore[attr-defined]
    completer.insert("@web")
    assert prompt.toPlainText() == "Where are cookies kept? @web "
    qtbot.keyClick(prompt, Qt.Key.Key_Backspace)  # a path follows the name: no space
    qtbot.keyClicks(prompt, "/httpx/_mo")
    qtbot.waitUntil(completer.showing, timeout=5_000)
    assert completer.model().stringList() == ["@web/httpx/_models.py"]  # type: ignore[attr-defined]
    prompt.setPlainText("@web how are cookies from a response kept for the next request?")

    chat.send(prompt.toPlainText())
    qtbot.waitUntil(lambda: not panel.chat.streaming, timeout=120_000)
    answer = chat.thread_view.answer
    assert isinstance(answer, MessageWidget) and answer.text()
    assert answer.sources.isVisible() and answer.sources.text().startswith("Sources: ")
    links = [part.split('"')[0] for part in answer.sources.text().split('href="')[1:]]
    cited = [parse_citation(link) for link in links]
    assert cited and all(c is not None and c[0] == "web" for c in cited)
    _project, path, line = cited[0]  # type: ignore[misc]
    answer.sources.linkActivated.emit(links[0])  # the link clicked
    qtbot.waitUntil(opened_log.exists, timeout=10_000)
    assert opened_log.read_text(encoding="utf-8") == f"{folder.resolve() / path} {line}"
