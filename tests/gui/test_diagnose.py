"""Help → Diagnose… (F1): the doctor's checks in a dialog, run off the window's thread,
and a support bundle saved from it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.ui.widgets.diagnose_dialog import DiagnoseDialog

pytestmark = pytest.mark.gui


def test_f1_diagnoses_and_saves_a_support_bundle(
    qtbot: QtBot, panel: Panel, tmp_path: Path
) -> None:
    panel.show("chat")
    panel.window.activateWindow()
    qtbot.waitUntil(panel.window.isActiveWindow)
    qtbot.keyClick(panel.window, Qt.Key.Key_F1)
    dialog = panel.diagnose
    assert isinstance(dialog, DiagnoseDialog)
    with qtbot.waitSignal(dialog.diagnose.diagnosed, timeout=30_000) as ran:
        pass
    checks = ran.args[0]
    names = [dialog.table.item(row, 1).text() for row in range(dialog.table.rowCount())]
    assert names == [c.name for c in checks] and names[0] == "profile"
    assert {"profile", "stack", "keyring", "gpu"} <= set(names)
    assert dialog.table.item(0, 0).text() == "✓ ok"
    stack = names.index("stack")  # no stack runs in the test's home: a warning, and what to do
    assert dialog.table.item(stack, 0).text() == "! warning"
    assert "elite-panel stack up" in dialog.table.item(stack, 3).text()
    assert "with a warning" in dialog.summary.text()

    dialog.choose_file = lambda *_args: tmp_path / "support"
    with qtbot.waitSignal(dialog.diagnose.saved, timeout=30_000):
        dialog.bundle.click()
    bundle = tmp_path / "support.zip"
    assert str(bundle) in dialog.summary.text()
    assert oct(bundle.stat().st_mode & 0o777) == "0o600"
    with zipfile.ZipFile(bundle) as opened:
        report = json.loads(opened.read("doctor.json"))
    assert [c["name"] for c in report] == names  # the checks the dialog showed
