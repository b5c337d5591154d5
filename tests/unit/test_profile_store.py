"""Profiles as files: safe edits (comments kept, invalid refused, conflicts detected),
the list operations, where values come from, and what a change restarts."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest

from elite_panel.core.errors import ConfigConflict, ConfigError
from elite_panel.core.paths import AppPaths
from elite_panel.core.profile_store import ProfileStore, diff, parse_value, services_to_restart
from elite_panel.core.redaction import REDACTED, RedactingFilter, Redactor


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    return ProfileStore(AppPaths.from_env({"ELITE_HOME": str(tmp_path)}).ensure(), {})


def test_set_value_keeps_comments_and_refuses_bad_values(store: ProfileStore) -> None:
    store.set_value("default", "runner.port", "8123")
    text = store.text("default")
    assert "port = 8123" in text and "# auto: an `ollama` binary" in text
    for key, value, words in (
        ("runner.port", "99999", "less than or equal to 65535"),
        ("runner.nope", "1", "unknown key 'nope'"),
        ("nosection.x", "1", "unknown section"),
        ("runner", "1", "SECTION.KEY"),
    ):
        with pytest.raises(ConfigError, match=words):
            store.set_value("default", key, value)
        assert store.text("default") == text  # unchanged


def test_a_bad_value_is_refused_even_where_a_variable_overrides_its_key(tmp_path: Path) -> None:
    """``ELITE_ASSISTANT__PORT`` hides the file's port from the merged view; the file is
    still checked alone, so a bad port is never written (it would fail wherever the
    variable is absent)."""
    paths = AppPaths.from_env({"ELITE_HOME": str(tmp_path)}).ensure()
    store = ProfileStore(paths, {"ELITE_ASSISTANT__PORT": "41234"})
    text = store.text("default")
    with pytest.raises(ConfigError, match=r"assistant\.port"):
        store.set_value("default", "assistant.port", "not-a-port")
    assert store.text("default") == text
    assert store.set_value("default", "assistant.port", "8100").assistant.port == 41234


def test_invalid_toml_or_values_are_refused_with_line_and_key(store: ProfileStore) -> None:
    original = store.text("default")
    with pytest.raises(ConfigError, match="line 2"):
        store.save_text("default", "[runner]\nport = = 3\n")
    with pytest.raises(ConfigError, match=r"dashboard.cpu_percent = 120.*default.toml:2"):
        store.save_text("default", "[dashboard]\ncpu_percent = 120\n")
    with pytest.raises(ConfigError, match="Extra inputs"):
        store.save_text("default", "[runner]\ncolour = 'red'\n")
    assert store.text("default") == original


def test_a_file_changed_on_disk_is_not_overwritten(store: ProfileStore) -> None:
    opened = store.text("default")
    store.path("default").write_text(opened + "\n# edited elsewhere\n", encoding="utf-8")
    with pytest.raises(ConfigConflict, match="changed on disk"):
        store.save_text("default", opened.replace("port = 8000", "port = 8001"), opened)
    assert "edited elsewhere" in store.text("default")


def test_create_duplicate_rename_use_delete(store: ProfileStore, tmp_path: Path) -> None:
    store.set_value("default", "assistant.port", "8100")
    store.create("gpu", source="default")
    assert store.load("gpu").assistant.port == 8100
    store.create("fresh")
    assert store.load("fresh").assistant.port == 8000
    with pytest.raises(ConfigError, match="already exists"):
        store.create("gpu")
    store.use("gpu")
    assert store.active() == "gpu"
    with pytest.raises(ConfigError, match="in use"):
        store.delete("gpu")
    store.rename("gpu", "workstation")
    assert store.active() == "workstation" and "gpu" not in store.names()
    with pytest.raises(ConfigError, match="cannot be deleted"):
        store.delete("default")
    store.use("default")
    store.delete("workstation")
    assert store.names() == ["default", "fresh"]

    exported = tmp_path / "shared.toml"
    store.export("fresh", exported)
    assert store.import_file(exported, "imported") == "imported"
    exported.write_text("[runner]\nkind = 'warp'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"runner\.kind"):
        store.import_file(exported, "broken")
    assert "broken" not in store.names()


def test_sources_and_the_environment(tmp_path: Path) -> None:
    paths = AppPaths.from_env({"ELITE_HOME": str(tmp_path)}).ensure()
    store = ProfileStore(paths, {"ELITE_RUNNER__KIND": "builtin", "ELITE_PROFILE": "default"})
    sources = store.sources("default")
    assert sources["runner.kind"] == "$ELITE_RUNNER__KIND"
    assert sources["assistant.port"] == "profile file"
    assert sources["stack.start_timeout_s"] == "default"


def test_diff_says_which_services_restart(store: ProfileStore) -> None:
    before = store.load("default")
    store.set_value("default", "dashboard.cpu_percent", "90")
    assert services_to_restart(diff(before, store.load("default"))) == []
    store.set_value("default", "assistant.port", "8200")
    changes = diff(before, store.load("default"))
    assert [c.key for c in changes] == ["assistant.port", "dashboard.cpu_percent"]
    assert services_to_restart(changes) == ["assistant"]
    store.set_value("default", "runner.kind", "builtin")
    assert services_to_restart(diff(before, store.load("default"))) == ["runner", "assistant"]


def test_parse_value() -> None:
    assert parse_value("8001") == 8001
    assert parse_value("true") is True
    assert parse_value('"x y"') == "x y"
    assert parse_value("qwen2.5-coder:7b") == "qwen2.5-coder:7b"


def test_redaction_of_messages_arguments_and_tracebacks() -> None:
    redactor = Redactor(["sk-secret-value", "abc"])  # too short to redact: ordinary text
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "key %s used", ("sk-secret-value",), None
    )
    try:
        raise RuntimeError("failed with sk-secret-value")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactingFilter(redactor).filter(record)
    assert record.getMessage() == f"key {REDACTED} used"
    assert record.exc_text and "sk-secret-value" not in record.exc_text
    assert redactor("abc sk-secret-value") == f"abc {REDACTED}"


def test_a_secret_read_is_redacted_from_this_process_logs(tmp_path: Path) -> None:
    """Through ``redaction.install``, as each process's entry point calls it: every handler
    of the logger gets the filter, and the secrets read afterwards are redacted too."""
    from elite_panel.core import redaction
    from elite_panel.core.secret_store import SecretStore

    written = io.StringIO()
    logger = logging.getLogger(f"elite_panel.test_redaction.{tmp_path.name}")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(written))
    redaction.install(logger=logger)
    value = "hf_environment_token_5678"
    store = SecretStore(AppPaths.from_env({"ELITE_HOME": str(tmp_path)}), {"HF_TOKEN": value})
    assert store.lookup("HF_TOKEN", keyring_ok=False) == (value, "environment")
    logger.warning("runner said: token=%s", value)
    assert value not in written.getvalue()
    assert f"token={REDACTED}" in written.getvalue()


def test_the_form_shows_human_defaults() -> None:
    """A key whose default comes from a factory (a table) shows it, not pydantic's sentinel."""
    from elite_panel.core.profile_store import schema_fields

    docs = {doc.path: doc for doc in schema_fields()}
    assert docs["runner.docker.env"].default == {}
    assert docs["runner.kind"].default == "auto"
    assert not any("Undefined" in repr(doc.default) for doc in docs.values())
