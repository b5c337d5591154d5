from __future__ import annotations

from pathlib import Path

import pytest

from elite_panel.chat.attachments import attachment_block
from elite_panel.core.errors import EliteError


def test_a_file_holding_fences_gets_a_longer_fence(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("Run:\n```sh\nmake\n```\n")
    block = attachment_block(readme)
    assert block.startswith("File `README.md`:\n\n````markdown\n")
    assert block.endswith("\n````\n")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EliteError, match=r"cannot attach gone\.txt"):
        attachment_block(tmp_path / "gone.txt")
