"""The screenshots script runs (as it makes the README's images): every page, light and
dark, 1280x720, of a real stack with a sample conversation."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.screenshots import PAGES, THEMES

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_every_page_is_pictured(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.screenshots", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for page in PAGES:
        for scheme in THEMES:
            data = (tmp_path / f"{page}-{scheme}.png").read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            assert struct.unpack(">II", data[16:24]) == (1280, 720)  # IHDR: width, height
        assert (tmp_path / f"diagnose-{scheme}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
