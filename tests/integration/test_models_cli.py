"""``elite-panel models`` on the real built-in runner: import a copy of the bundled GGUF
under a new name, chat with it, delete it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from elite_panel.core.builtin_runner import bundled_model_path
from tests.conftest import Home

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_import_chat_delete_on_the_builtin_runner(home: Home, tmp_path: Path) -> None:
    bundled = bundled_model_path()
    assert bundled is not None
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(bundled, copy)
    assert home.cli("stack", "up").returncode == 0

    imported = home.cli("models", "import", str(copy), "--name", "smol-copy")
    assert imported.returncode == 0, imported.stderr
    assert "restarting the runner" in imported.stdout  # it serves the new file from then on
    listed = {
        m["name"]: m for m in json.loads(home.cli("models", "list", "--json").stdout)["models"]
    }
    assert listed["smol-copy"]["size"] == copy.stat().st_size
    assert listed[bundled.stem]["bundled"] is True

    chat = home.cli("chat", "--model", "smol-copy", "Say hi")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip()

    refused = home.cli("models", "rm", bundled.stem)
    assert refused.returncode == 1 and "cannot be deleted" in refused.stderr
    assert home.cli("models", "rm", "smol-copy").returncode == 0
    assert not (home.root / "data" / "models" / "smol-copy.gguf").exists()
    # Gone at once, with the runner that loaded it still running: not listed, not answered.
    after = json.loads(home.cli("models", "list", "--json").stdout)["models"]
    assert [(m["name"], m["embedding"]) for m in after] == [
        (bundled.stem, False),
        ("all-minilm", True),  # the bundled embedding model, converted at the stack's start
    ]
    assert "cannot be deleted" in home.cli("models", "rm", "all-minilm").stderr
    gone = home.cli("chat", "--model", "smol-copy", "Say hi")
    assert gone.returncode == 1 and "smol-copy" in gone.stderr and "not found" in gone.stderr
    pull = home.cli("models", "pull", "llama3.2")
    assert pull.returncode == 1 and "import it" in pull.stderr
