"""What a coroutine needs is imported in a worker thread, not on the window's."""

from __future__ import annotations

import asyncio
import sys
import threading
from types import ModuleType

import pytest

from elite_panel.adapters import tasks


def test_the_loader_and_its_imports_run_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    ran_in: list[threading.Thread] = []

    def load() -> ModuleType:
        ran_in.append(threading.current_thread())
        import colorsys

        return colorsys

    module = asyncio.run(tasks.off_the_window(load))
    assert module is sys.modules["colorsys"]  # what it imported comes back
    assert ran_in and ran_in[0] is not threading.main_thread()
