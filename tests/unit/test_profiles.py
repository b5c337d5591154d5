from __future__ import annotations

from pathlib import Path

import pytest

from elite_panel.core.errors import ConfigError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profiles import (
    BUILTIN_DEFAULT_PORT,
    OLLAMA_DEFAULT_PORT,
    RunnerKind,
    load_profile,
)


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths.from_env({"ELITE_HOME": str(tmp_path)}).ensure()


def test_elite_home_redirects_every_path(tmp_path: Path) -> None:
    paths = AppPaths.from_env({"ELITE_HOME": str(tmp_path)})
    for path in (paths.config, paths.data, paths.state, paths.logs, paths.runtime):
        assert path.is_relative_to(tmp_path)


def test_private_folders_are_owner_only(paths: AppPaths) -> None:
    assert paths.runtime.stat().st_mode & 0o777 == 0o700
    assert paths.state.stat().st_mode & 0o777 == 0o700


def test_default_profile_is_created_with_defaults(paths: AppPaths) -> None:
    profile = load_profile(paths, environ={})
    assert (paths.profiles / "default.toml").is_file()
    assert profile.runner.kind is RunnerKind.AUTO
    assert profile.assistant.port == 8000
    assert profile.stack.stop_on_quit is True
    assert profile.runner.port_for(RunnerKind.BUILTIN) == BUILTIN_DEFAULT_PORT
    assert profile.runner.port_for(RunnerKind.OLLAMA) == OLLAMA_DEFAULT_PORT


def test_environment_overrides_every_level(paths: AppPaths) -> None:
    profile = load_profile(
        paths,
        environ={
            "ELITE_RUNNER__KIND": "builtin",
            "ELITE_ASSISTANT__PORT": "18000",
            "ELITE_HOME": "ignored",
            "ELITE_STACK__STOP_ON_QUIT": "false",
        },
    )
    assert profile.runner.kind is RunnerKind.BUILTIN
    assert profile.assistant.port == 18000
    assert profile.stack.stop_on_quit is False


def test_invalid_file_value_names_key_value_file_and_line(paths: AppPaths) -> None:
    path = paths.profiles / "work.toml"
    path.write_text('[runner]\nkind = "builtin"\n\n[assistant]\nport = "eighty"\n')
    with pytest.raises(ConfigError) as info:
        load_profile(paths, "work", environ={})
    message = str(info.value)
    assert "assistant.port" in message
    assert "'eighty'" in message
    assert f"{path}:5" in message


def test_invalid_dotted_key_line(paths: AppPaths) -> None:
    path = paths.profiles / "dotted.toml"
    path.write_text('runner.kind = "builtin"\nrunner.port = 70000\n')
    with pytest.raises(ConfigError, match=rf"runner.port = 70000.*{path}:2"):
        load_profile(paths, "dotted", environ={})


def test_invalid_environment_value_names_the_variable(paths: AppPaths) -> None:
    with pytest.raises(ConfigError) as info:
        load_profile(paths, environ={"ELITE_RUNNER__KIND": "gpu-magic"})
    assert "runner.kind = 'gpu-magic'" in str(info.value)
    assert "environment variable ELITE_RUNNER__KIND" in str(info.value)


def test_unknown_key_is_an_error_not_ignored(paths: AppPaths) -> None:
    (paths.profiles / "typo.toml").write_text("[runner]\nknid = 'builtin'\n")
    with pytest.raises(ConfigError, match=r"runner.knid.*typo.toml:2"):
        load_profile(paths, "typo", environ={})


def test_broken_toml_is_reported_with_its_position(paths: AppPaths) -> None:
    (paths.profiles / "broken.toml").write_text("[runner\nkind = 1\n")
    with pytest.raises(ConfigError, match=r"broken.toml: invalid TOML: .*line 1"):
        load_profile(paths, "broken", environ={})


def test_missing_named_profile_and_bad_name(paths: AppPaths) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_profile(paths, "nope", environ={})
    with pytest.raises(ConfigError, match="invalid profile name"):
        load_profile(paths, "../escape", environ={})


def test_external_url_must_be_http(paths: AppPaths) -> None:
    with pytest.raises(ConfigError, match=r"runner\.url"):
        load_profile(paths, environ={"ELITE_RUNNER__URL": "ftp://x"})
