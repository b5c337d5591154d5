"""Screenshots of every page and the Diagnose dialog, light and dark, at 1280x720, of a
running stack with a sample
conversation: ``python -m tests.screenshots OUTDIR [WIDTHxHEIGHT]`` (offscreen; about 20 s;
another size, such as the minimum 1024x640, to look at a page there).

The stack is real (the supervisor, the assistant server) in front of the Ollama double, so
the pictures show what a user sees without a GPU or a model download. The README's images
are made with it (``resources/docs/screenshots/``); the test suite runs it, so they cannot go
stale without a failing test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from elite_panel.cli import PAGES  # every page (the window's --page choices)

REPO = Path(__file__).resolve().parents[1]
THEMES = ("light", "dark")
SIZE = (1280, 720)
PROMPT = "Write a Python function that reverses a list, with a docstring."


@contextlib.contextmanager
def running_stack(home: Path) -> Iterator[dict[str, str]]:
    """A stack in ``home`` whose runner is the Ollama double; its environment."""
    from tests.fakes.ollama_double import OllamaDouble, build_app, free_port, serve_in_thread

    double = OllamaDouble()
    double.installed.append(  # an embedding model, for the project index (the double's vectors)
        {"name": "all-minilm:latest", "model": "all-minilm:latest", "size": 45_960_996,
         "details": {"family": "bert", "families": ["bert"], "format": "gguf",
                     "parameter_size": "23M", "quantization_level": "F16"}}
    )  # fmt: skip
    for url in serve_in_thread(build_app(double)):
        env = {
            **os.environ,
            "ELITE_HOME": str(home),
            "ELITE_RUNNER__KIND": "external",
            "ELITE_RUNNER__URL": url,
            "ELITE_ASSISTANT__PORT": str(free_port()),
            "ELITE_STACK__STOP_ON_QUIT": "false",
            "ELITE_PROJECTS__WATCH": "false",
        }
        cli = [sys.executable, "-m", "elite_panel"]
        subprocess.run([*cli, "stack", "up"], env=env, check=True, capture_output=True)
        try:
            subprocess.run(
                [*cli, "chat", "--model", "llama3.2", PROMPT],
                env=env,
                check=True,
                capture_output=True,
            )
            code = home / "code" / "elite-panel"  # a project: this package, and a planted .env
            shutil.copytree(REPO / "src" / "elite_panel", code)
            (code / ".env").write_text("NOT_INDEXED=1\n")
            subprocess.run(
                [*cli, "projects", "add", str(code)], env=env, check=True, capture_output=True
            )
            yield env
        finally:
            subprocess.run([*cli, "stack", "down"], env=env, capture_output=True)


async def shoot(out: Path, size: tuple[int, int] = SIZE) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from elite_panel.app import Panel
    from elite_panel.core.paths import AppPaths
    from elite_panel.ui import theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    written = []
    for scheme in THEMES:
        os.environ["ELITE_WINDOW__THEME"] = scheme  # what the profile then says
        theme.apply(app, scheme)
        panel = Panel(AppPaths.from_env(), "default", use_tray=False)
        panel.show("chat")
        panel.window.resize(*size)  # (after show: not the size the previous one kept)
        panel.check_profile()
        await until(lambda panel=panel: panel.stack.connected and panel.chat.client is not None)
        await until(lambda panel=panel: panel.window.page("chat").conversation_list.count() > 0)
        chat = panel.window.page("chat")
        chat.conversation_list.select_row(0)
        chat.conversation_list.conversations.clicked.emit(chat.conversation_list.model.index(0))
        await asyncio.sleep(1.5)  # the conversation, the models, a few dashboard samples
        for name in PAGES:
            panel.show(name)
            await asyncio.sleep(0.8)  # each page's first answers (lists, keyring, graphs)
            path = out / f"{name}-{scheme}.png"
            if not panel.window.grab().save(str(path)):
                raise RuntimeError(f"could not write {path}")
            written.append(path)
        panel.show_diagnose()  # Help → Diagnose…, over the window
        table = panel.diagnose.table
        await until(lambda table=table: table.rowCount() > 0)
        path = out / f"diagnose-{scheme}.png"
        if not panel.diagnose.grab().save(str(path)):
            raise RuntimeError(f"could not write {path}")
        written.append(path)
        panel.diagnose.close()
        panel.close()
    return written


async def until(predicate: object, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.05)


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "screenshots").resolve()
    width, height = (int(n) for n in (argv[1] if len(argv) > 1 else "1280x720").split("x"))
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="elite-shots-"))
    # An offscreen screen of a desktop's size (Qt's own is 800x800): the window is 1280x720.
    screens = home / "screens.json"
    screens.write_text(
        '{"screens": [{"name": "desktop", "x": 0, "y": 0, "width": 1920, "height": 1200,'
        ' "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}'
    )
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={screens}"
    with running_stack(home) as env:
        os.environ.update({k: v for k, v in env.items() if k.startswith("ELITE_")})
        import qasync
        from PySide6.QtWidgets import QApplication

        app = QApplication(sys.argv[:1])
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        with loop:
            written = loop.run_until_complete(shoot(out, (width, height)))
    sys.stdout.write("".join(f"{path}\n" for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
