"""Heavy modules a coroutine needs are imported in a worker thread, not on the window's."""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading

import pytest

from elite_panel.adapters import tasks


def test_the_import_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real = importlib.import_module

    def import_module(name: str) -> object:
        threads.append(threading.current_thread())
        return real(name)

    monkeypatch.setattr(tasks.importlib, "import_module", import_module)
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    asyncio.run(tasks.import_off_the_window("colorsys"))
    assert "colorsys" in sys.modules
    assert threads and threads[0] is not threading.main_thread()
    asyncio.run(tasks.import_off_the_window("colorsys"))  # imported already: no thread
    assert len(threads) == 1
