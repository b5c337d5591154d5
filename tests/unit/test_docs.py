"""The docs site: it builds with ``--strict`` (a broken link or anchor, or a reference the
hooks do not know, fails), its picture of the layers is the import contracts' layers, and
the README stays an entrance (at most 300 lines)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO


def test_the_site_builds_strict_with_its_generated_reference(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    cli = (tmp_path / "reference" / "cli" / "index.html").read_text()
    assert "elite-panel stack up" in cli and "elite-assistant-server keys create" in cli
    assert "ELITE_RUNNER__KIND" in (tmp_path / "reference" / "profile" / "index.html").read_text()
    api = (tmp_path / "reference" / "http-api" / "index.html").read_text()
    assert "/v1/chat/completions" in api and "/api/chat/count" in api


def test_the_layers_picture_is_the_import_contracts() -> None:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in contracts["contracts"] if c["type"] == "layers")["layers"]
    page = (REPO / "resources" / "docs" / "architecture.md").read_text()
    picture = page.split("## The panel's layers", 1)[1].split("```mermaid", 1)[1].split("```")[0]
    boxes = re.findall(r'^\s*L\d+\["([^"]+)"\]', picture, re.MULTILINE)
    assert [set(b.split(" · ")) for b in boxes] == [set(layer.split(" | ")) for layer in layers]
    assert " --> ".join(f"L{i}" for i in range(len(boxes))) in picture  # each above the next


def test_the_readme_is_an_entrance() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 300
