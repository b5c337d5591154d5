"""Soak: drive the Qt event loop through 100,000 iterations with timers firing.

PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every void Qt call and
crashes after a few thousand (see the docs); this catches that class of bug.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QLabel

pytestmark = pytest.mark.gui

ITERATIONS = 100_000


def test_event_loop_soak_with_timers(qapp: QApplication) -> None:
    label = QLabel()
    fired = {"fast": 0, "zero": 0}

    def on_fast() -> None:
        fired["fast"] += 1
        label.setText(str(fired["fast"]))  # a void Qt call per tick

    def on_zero() -> None:
        fired["zero"] += 1

    fast = QTimer()
    fast.setInterval(1)
    fast.timeout.connect(on_fast)
    zero = QTimer()
    zero.setInterval(0)
    zero.timeout.connect(on_zero)
    fast.start()
    zero.start()
    none_refs = sys.getrefcount(None)
    for _ in range(ITERATIONS):
        QCoreApplication.processEvents()
    fast.stop()
    zero.stop()
    assert fired["zero"] > ITERATIONS // 2
    assert fired["fast"] > 10
    assert label.text() == str(fired["fast"])
    if sys.version_info < (3, 12):  # None is immortal from 3.12 on
        assert sys.getrefcount(None) >= none_refs - 1000
