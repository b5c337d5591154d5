"""``elite-panel editor``: each editor's configuration points at the profile's assistant
with its roles, never holds the key in clear, and --write keeps the old file."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest
import yaml

from elite_panel.cli import editor
from elite_panel.core.errors import EliteError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import Profile
from tests.fakes.ollama_double import free_port

SECRET = "sk-never-in-a-file-0123456789"


def profile(port: int) -> Profile:
    return Profile.model_validate({"assistant": {"port": port}})


def run(tmp_path: Path, name: str, write: bool, file: Path | None = None) -> int:
    args = argparse.Namespace(editor=name, write=write, file=file, model="qwen2.5-coder:7b")

    async def key() -> str:
        return SECRET

    paths = AppPaths.from_env({"ELITE_HOME": str(tmp_path / "home")})
    port = free_port()  # nothing listens: the named model is used
    return asyncio.run(editor.run_editor(args, paths, profile(port), key))


def test_continue_has_chat_autocomplete_and_embed_roles(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    assert run(tmp_path, "continue", True, file) == 0
    config = yaml.safe_load(file.read_text(encoding="utf-8"))
    roles = {m["name"]: (m["model"], tuple(m["roles"])) for m in config["models"]}
    assert roles == {
        "Elite chat": ("qwen2.5-coder:7b", ("chat", "edit", "apply")),
        "Elite autocomplete": ("qwen2.5-coder:7b", ("autocomplete",)),
        "Elite embeddings": ("all-minilm", ("embed",)),
    }
    assert {m["apiBase"] for m in config["models"]} == {f"http://127.0.0.1:{_port(config)}/v1"}
    assert {m["apiKey"] for m in config["models"]} == {"${{ secrets.ELITE_ASSISTANT_API_KEY }}"}
    assert SECRET not in file.read_text(encoding="utf-8")


def _port(config: dict[str, object]) -> int:
    base = config["models"][0]["apiBase"]  # type: ignore[index]
    return int(str(base).rsplit(":", 1)[1].split("/")[0])


def test_zed_is_merged_into_its_settings_and_the_old_file_kept(tmp_path: Path) -> None:
    file = tmp_path / "settings.json"
    file.write_text(json.dumps({"theme": "One Dark", "vim_mode": True}), encoding="utf-8")
    assert run(tmp_path, "zed", True, file) == 0
    settings = json.loads(file.read_text(encoding="utf-8"))
    assert settings["theme"] == "One Dark" and settings["vim_mode"] is True
    provider = settings["language_models"]["openai_compatible"][editor.PROVIDER]
    assert provider["available_models"][0]["name"] == "qwen2.5-coder:7b"
    (backup,) = tmp_path.glob("settings.json.bak-*")
    assert json.loads(backup.read_text(encoding="utf-8")) == {"theme": "One Dark", "vim_mode": True}
    assert SECRET not in file.read_text(encoding="utf-8")

    file.write_text('{\n  // a comment\n  "theme": "x"\n}\n', encoding="utf-8")
    with pytest.raises(EliteError, match="by hand"):  # JSON with comments is not rewritten
        run(tmp_path, "zed", True, file)
    assert "// a comment" in file.read_text(encoding="utf-8")


def test_aider_and_the_key_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / ".aider.conf.yml"
    assert run(tmp_path, "aider", False, file) == 0  # printed, not written
    printed = capsys.readouterr().out
    assert not file.exists()
    config = yaml.safe_load(printed)
    assert config["model"] == "openai/qwen2.5-coder:7b"
    assert config["openai-api-base"].endswith("/v1") and SECRET not in printed
    assert run(tmp_path, "env", False) == 0
    assert capsys.readouterr().out == f"export ELITE_ASSISTANT_API_KEY={SECRET}\n"
