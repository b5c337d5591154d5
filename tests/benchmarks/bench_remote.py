"""The chat page on a distant team server: 50 ms added each way by a delaying proxy, against
the same server reached directly in the same run.

Run: ``QT_QPA_PLATFORM=offscreen python -m tests.benchmarks.bench_remote``.

The server (its own process, SQLite) holds 10,000 conversations of 20 messages and one of
2,000; the runner is the OpenAI double (``TOKEN_DELAY_S`` between tokens). In this process
the real :class:`ChatPage` and :class:`ChatAdapter` run on qasync, and a 1 ms timer
measures how late the event loop serves it (stalls). Figures, direct and through the proxy:

- the conversation list's first page shown, from the page's request (a new connection:
  a panel just opened) to the list filled: aim <= 300 ms through the proxy;
- event-loop stalls (p99, max) while the list and the 2,000-message conversation open (its
  newest page): aim p99 <= 16 ms;
- first token shown: from the moment the server's first token passes the proxy on its way
  to the panel to the moment it is in the answer's view: aim <= 60 ms through the proxy
  (50 of them the proxy's). "Direct" passes a proxy without delay, timed the same way.

The process settles its start-up objects as the panel does after its first paint
(``gc.freeze``, as the window's start does); a last round through the proxy measures without.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from embedded_server.db.engine import Database
from embedded_server.db.migrate import upgrade
from embedded_server.db.store import ConversationStore
from tests.benchmarks import save_results
from tests.benchmarks.bench_server import TOKEN, process
from tests.benchmarks.bench_store import add_long_conversation, grow
from tests.fakes.ollama_double import free_port

DELAY_S = 0.050  # each way
MESSAGES = 200_000  # 10,000 conversations of 20
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
TOKENS = 40
TOKEN_DELAY_S = 0.01


class DelayProxy:
    """A TCP proxy that holds every chunk ``delay_s`` in each direction (order kept), in a
    thread of its own; notes when the server's first token of an answer passes."""

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.target_port = target_port
        self.delay_s = delay_s
        self.port = free_port()
        self.token_passed: float | None = None  # perf_counter; reset by the caller
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        ready.set()
        self._loop.run_forever()  # a daemon thread: it ends with the benchmark

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(
            self._pipe(client_r, server_w, from_server=False),
            self._pipe(server_r, client_w, from_server=True),
        )

    async def _pipe(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, from_server: bool
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    target.close()
                    return
                target.write(data)
                await target.drain()

        sender = asyncio.create_task(send())
        try:
            while data := await source.read(65536):
                if from_server and self.token_passed is None and b'"token"' in data:
                    self.token_passed = time.perf_counter()
                queue.put_nowait((loop.time() + self.delay_s, data))
        except ConnectionError:
            pass
        queue.put_nowait((loop.time() + self.delay_s, b""))
        await sender


def prepare(data: Path) -> str:
    """The server's database: migrated, 10,000 conversations, one long one (its id)."""

    async def build() -> str:
        url = f"sqlite:///{data / 'assistant.db'}"
        db = Database(url)
        await upgrade(db)
        long_id = await add_long_conversation(ConversationStore(db))
        await grow(db, url, 0, MESSAGES)
        await db.dispose()
        return long_id

    return asyncio.run(build())


class Probe:
    """A 1 ms timer: how late each tick came (stalls), and a check run on every tick."""

    def __init__(self) -> None:
        self.stalls: list[float] = []
        self.check: Callable[[], None] | None = None
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(1)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.stalls.append(max(0.0, (now - self._last) * 1000 - 1.0))
        self._last = now
        if self.check is not None:
            self.check()


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark's condition was not met")
        await asyncio.sleep(0.001)


async def measure(url: str, long_id: str, proxy: DelayProxy) -> dict[str, Any]:
    from elite_panel.adapters.chat_adapter import ChatAdapter
    from elite_panel.core.paths import AppPaths
    from elite_panel.ui.pages.chat_page import ChatPage

    adapter = ChatAdapter(AppPaths.from_env())
    page = ChatPage(adapter)
    page.resize(1280, 720)
    page.show()
    probe = Probe()
    marks: dict[str, float] = {}  # the moments of the current run, by name
    # After the page's own slots (connected first): the list is filled, the history drawn.
    adapter.conversationsChanged.connect(lambda _c: marks.setdefault("listed", _now()))
    adapter.conversationLoaded.connect(lambda _d: marks.setdefault("loaded", _now()))
    adapter.streamFinished.connect(lambda _e: marks.setdefault("done", _now()))

    def look() -> None:
        answer = page.thread_view.answer
        if "shown" not in marks and answer is not None and answer.body.toPlainText().strip():
            marks["shown"] = _now()

    first_page: list[float] = []
    load_stalls: list[float] = []
    first_token: list[float] = []
    for _ in range(RUNS):
        # A page just opened: a new connection, the list's first page, then a long history.
        marks.clear()
        probe.stalls.clear()
        began = _now()
        adapter.connect_to(url, TOKEN)
        await until(lambda: "listed" in marks)
        first_page.append((marks["listed"] - began) * 1000)
        adapter.open(long_id)
        await until(lambda: "loaded" in marks)
        await asyncio.sleep(0.05)  # what follows the load (layout, paint)
        load_stalls += probe.stalls

        # One answer: its first token, from the wire to the view.
        proxy.token_passed = None
        probe.check = look
        page.ask("write a loop", "double-model")
        await until(lambda: "done" in marks)
        probe.check = None
        assert proxy.token_passed is not None
        first_token.append((marks["shown"] - proxy.token_passed) * 1000)
    adapter.close()
    page.close()
    stalls = sorted(load_stalls)
    return {
        "first_page_ms": _summary(first_page),
        "stall_p99_ms": stalls[int(0.99 * (len(stalls) - 1))],
        "stall_max_ms": stalls[-1],
        "first_token_shown_ms": _summary(first_token),
    }


def _now() -> float:
    return time.perf_counter()


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "max": ordered[-1],
    }


def main() -> int:
    home = tempfile.mkdtemp(prefix="elite-bench-remote-")
    os.environ["ELITE_HOME"] = home
    data = Path(home) / "server"
    data.mkdir()
    long_id = prepare(data)
    app = QApplication.instance() or QApplication(sys.argv)
    runner_port, server_port = free_port(), free_port()
    double = [
        *(sys.executable, "-m", "tests.fakes.openai_double"),
        *(str(runner_port), str(TOKENS), str(TOKEN_DELAY_S)),
    ]
    env = {
        "ASSISTANT_PORT": str(server_port),
        "ASSISTANT_API_TOKEN": TOKEN,
        "ASSISTANT_BACKEND": "openai",
        "ASSISTANT_BACKEND_URL": f"http://127.0.0.1:{runner_port}/v1",
        "ASSISTANT_DATA_DIR": str(data),
        "ASSISTANT_RATE_LIMIT": "off",
        "LOG_LEVEL": "WARNING",
    }
    results: dict[str, Any] = {"delay_ms_each_way": DELAY_S * 1000, "runs": RUNS}
    server = f"http://127.0.0.1:{server_port}"
    with (
        process(double, f"http://127.0.0.1:{runner_port}/v1/models", env),
        process([sys.executable, "-m", "embedded_server"], f"{server}/health", env),
    ):
        # The baseline passes a proxy too, without delay: both first tokens timed alike.
        proxies = {
            "direct": DelayProxy(server_port, 0.0),
            "proxied": DelayProxy(server_port, DELAY_S),
        }
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        with loop:
            # As the panel does once its window is painted; the last row without it.
            gc.freeze()
            for name, proxy in proxies.items():
                url = f"http://127.0.0.1:{proxy.port}"
                results[name] = loop.run_until_complete(measure(url, long_id, proxy))
            gc.unfreeze()
            url = f"http://127.0.0.1:{proxies['proxied'].port}"
            results["proxied, not settled"] = loop.run_until_complete(
                measure(url, long_id, proxies["proxied"])
            )
    for name in ("direct", "proxied", "proxied, not settled"):
        r = results[name]
        sys.stdout.write(
            f"{name:20} first page {r['first_page_ms']['median']:.0f} ms median, "
            f"{r['first_page_ms']['p95']:.0f} p95 (aim <= 300 through the proxy); stalls p99 "
            f"{r['stall_p99_ms']:.1f} ms, max {r['stall_max_ms']:.1f} (aim p99 <= 16); first "
            f"token shown {r['first_token_shown_ms']['median']:.1f} ms median, "
            f"{r['first_token_shown_ms']['p95']:.1f} p95 (aim <= 60 through the proxy)\n"
        )
    save_results("remote", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
