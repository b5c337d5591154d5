"""Streaming a long answer into the chat view, against the naive way, offscreen.

Run: ``QT_QPA_PLATFORM=offscreen python -m tests.benchmarks.bench_chat_render``
(``bash packaging/bootstrap.sh bench`` runs it too). It ends with a streaming soak of
``SOAK_MINUTES`` (10) minutes that samples the process's memory.

A 20,000-token answer with code blocks and lists is streamed at 2,000 tokens/s into
:class:`MarkdownView` while a 1 ms timer measures how late the event loop serves it
(stalls). CPU per 1,000 tokens is taken around 5k, 10k and 20k tokens. The baseline, in
the same run, is the naive view: ``setMarkdown(whole_text)`` on every token, measured on
100 tokens at each point (it cannot keep up with the whole stream) and scaled to 1,000.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QScrollArea, QTextBrowser

from elite_panel.ui.widgets.markdown_view import MarkdownView
from tests.benchmarks import save_results

TOKENS = 20_000
RATE = 2_000  # tokens per second
CHECKPOINTS = (5_000, 10_000, 20_000)
NAIVE_SAMPLE = 100


def answer_tokens(count: int) -> list[str]:
    """Words of a plausible long answer: prose, lists and fenced code, ~4 chars a token."""
    pattern = (
        "Here is how the parser handles each case in turn , with the details below .\n\n"
        "- first the tokenizer splits the input\n- then the parser builds a tree\n"
        "- finally the printer walks it\n\n```python\ndef parse ( text ) :\n"
        "    tokens = tokenize ( text )\n    return build_tree ( tokens )\n```\n\n"
    )
    words = pattern.replace("\n", " \n ").split(" ")
    out: list[str] = []
    while len(out) < count:
        out.extend(w + ("" if w == "\n" else " ") for w in words if w)
    return out[:count]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stream_into_view(app: QApplication, tokens: list[str]) -> dict[str, object]:
    view = MarkdownView()
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(view)
    area.resize(900, 700)
    area.show()
    stalls: list[float] = []
    cpu_at: dict[int, float] = {}
    state = {"sent": 0, "text": "", "last_probe": time.perf_counter()}
    clock = QElapsedTimer()
    loop = QEventLoop()

    def probe() -> None:
        now = time.perf_counter()
        stalls.append(max(0.0, (now - state["last_probe"]) * 1000 - 1.0))  # type: ignore[operator]
        state["last_probe"] = now

    def feed() -> None:
        due = min(len(tokens), int(clock.elapsed() / 1000 * RATE))
        sent = int(state["sent"])  # type: ignore[call-overload]
        if due > sent:
            state["text"] = str(state["text"]) + "".join(tokens[sent:due])
            for mark in CHECKPOINTS:
                for edge in (mark - 1000, mark):
                    if sent < edge <= due:
                        cpu_at[edge] = time.process_time()
            state["sent"] = due
            view.stream_text(str(state["text"]))
        if due >= len(tokens):
            view.flush()
            loop.quit()

    probe_timer, feed_timer = QTimer(), QTimer()
    probe_timer.setInterval(1)
    probe_timer.timeout.connect(probe)
    feed_timer.setInterval(5)
    feed_timer.timeout.connect(feed)
    clock.start()
    probe_timer.start()
    feed_timer.start()
    loop.exec()
    probe_timer.stop()
    feed_timer.stop()
    area.close()
    per_1000 = {mark: (cpu_at[mark] - cpu_at[mark - 1000]) * 1000 for mark in CHECKPOINTS}
    return {
        "stall_p99_ms": percentile(stalls, 0.99),
        "stall_max_ms": max(stalls),
        "render_cpu_ms_per_1000_tokens": per_1000,
        "seconds": clock.elapsed() / 1000,
    }


def naive(app: QApplication, tokens: list[str]) -> dict[str, object]:
    view = QTextBrowser()
    view.resize(900, 700)
    view.show()
    per_1000: dict[int, float] = {}
    stalls: list[float] = []
    for mark in CHECKPOINTS:
        text = "".join(tokens[: mark - NAIVE_SAMPLE])
        start = time.process_time()
        for token in tokens[mark - NAIVE_SAMPLE : mark]:
            text += token
            began = time.perf_counter()
            view.setMarkdown(text)
            app.processEvents()
            stalls.append((time.perf_counter() - began) * 1000)
        per_1000[mark] = (time.process_time() - start) * 1000 * (1000 / NAIVE_SAMPLE)
    view.close()
    return {
        "render_cpu_ms_per_1000_tokens": per_1000,
        "stall_p99_ms": percentile(stalls, 0.99),
        "stall_max_ms": max(stalls),
    }


def open_long_conversation(app: QApplication, messages: int = 1000) -> float:
    """Seconds from loading a conversation of ``messages`` messages to its first paint."""
    import tempfile

    from elite_panel.adapters.chat_adapter import ChatAdapter
    from elite_panel.client.records import ConversationDetail, parse
    from elite_panel.core.paths import AppPaths
    from elite_panel.ui.pages.chat_page import ChatPage

    home = tempfile.mkdtemp(prefix="elite-bench-chat-")
    page = ChatPage(ChatAdapter(AppPaths.from_env({"ELITE_HOME": home})))
    page.resize(1100, 750)
    page.show()
    app.processEvents()
    body = "".join(answer_tokens(300))
    at = "2026-12-01T10:00:00+00:00"
    detail = parse(
        ConversationDetail,
        {
            **{"id": "x", "title": "a long one", "pinned": False, "model": "m"},
            **{"created_at": at, "updated_at": at},
            "messages": [
                {
                    **dict.fromkeys(("error", "prompt_tokens", "completion_tokens", "ttft_ms")),
                    **{"id": f"m{i}", "created_at": at, "tokens_per_second": None},
                    "role": "user" if i % 2 == 0 else "assistant",
                    "content": body,
                    "model": "m",
                    "status": "complete",
                }
                for i in range(messages)
            ],
        },
    )
    start = time.perf_counter()
    page._on_loaded(detail)
    page.repaint()
    app.processEvents()
    elapsed = time.perf_counter() - start
    page.close()
    return elapsed


def soak(app: QApplication, minutes: float) -> dict[str, object]:
    """Stream answer after answer into the chat view for ``minutes``; RSS over time.

    Each answer (2,000 tokens) streams into a new message widget at frame pace; only the
    last five stay (like moving on to new conversations), so memory should stay flat.
    """
    import psutil
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from elite_panel.ui.widgets.message_widget import MessageWidget

    host = QWidget()
    layout = QVBoxLayout(host)
    host.resize(900, 700)
    host.show()
    tokens = answer_tokens(2_000)
    process = psutil.Process()
    samples: list[tuple[float, float]] = []
    widgets: list[MessageWidget] = []
    start = time.monotonic()
    next_sample = start + 60.0  # after a minute of warm-up
    answers = 0
    while time.monotonic() - start < minutes * 60:
        widget = MessageWidget("assistant")
        layout.addWidget(widget)
        widgets.append(widget)
        text = ""
        for index in range(0, len(tokens), 20):
            text += "".join(tokens[index : index + 20])
            widget.body.stream_text(text)
            widget.body.flush()
            app.processEvents()
        answers += 1
        while len(widgets) > 5:
            old = widgets.pop(0)
            layout.removeWidget(old)
            old.deleteLater()
        # processEvents() leaves deferred deletions to the main loop, which this is not
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
        if time.monotonic() >= next_sample:
            samples.append((time.monotonic() - start, process.memory_info().rss / 2**20))
            next_sample += 30.0
    host.close()
    first, last = samples[0][1], samples[-1][1]
    return {
        "minutes": minutes,
        "answers": answers,
        "rss_mb_samples": samples,
        "rss_first_mb": first,
        "rss_last_mb": last,
        "rss_max_mb": max(r for _, r in samples),
    }


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    tokens = answer_tokens(TOKENS)
    ours = stream_into_view(app, tokens)
    base = naive(app, tokens)
    opened = statistics.median(open_long_conversation(app) for _ in range(3))
    soaked = soak(app, float(os.environ.get("SOAK_MINUTES", "10")))
    ours_cost = ours["render_cpu_ms_per_1000_tokens"]
    base_cost = base["render_cpu_ms_per_1000_tokens"]
    assert isinstance(ours_cost, dict) and isinstance(base_cost, dict)
    lines = [
        f"{TOKENS:,} tokens at {RATE:,} tokens/s into the view (offscreen), {os.cpu_count()} CPUs",
        f"incremental view: event-loop stalls p99 {ours['stall_p99_ms']:.1f} ms, "
        f"max {ours['stall_max_ms']:.1f} ms (aims: <= 16, <= 50); streamed in "
        f"{ours['seconds']:.1f} s",
        "render CPU per 1,000 tokens at "
        + ", ".join(f"{m // 1000}k: {ours_cost[m]:.0f} ms" for m in CHECKPOINTS)
        + " (aim: flat)",
        f"naive setMarkdown(whole) per token: stalls p99 {base['stall_p99_ms']:.1f} ms, "
        f"max {base['stall_max_ms']:.1f} ms; CPU per 1,000 tokens at "
        + ", ".join(f"{m // 1000}k: {base_cost[m]:,.0f} ms" for m in CHECKPOINTS),
        f"opening a conversation of 1,000 messages (300 tokens each) to its first paint: "
        f"{opened * 1000:.0f} ms (aim <= 300 ms; the newest 20 are rendered, older on demand)",
        f"streaming soak, {soaked['minutes']} min, {soaked['answers']} answers of 2,000 tokens: "
        f"RSS {soaked['rss_first_mb']:.0f} MB after the first minute, "
        f"{soaked['rss_last_mb']:.0f} MB at the end, max {soaked['rss_max_mb']:.0f} MB (aim: flat)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    save_results(
        "chat_render", {"ours": ours, "naive": base, "open_1000_s": opened, "soak": soaked}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
