"""``elite-panel models ...``: the runner's models through the assistant server."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elite_panel.chat.context_text import window_text
from elite_panel.cli.console import err, out, out_json
from elite_panel.client.records import to_json
from elite_panel.core.errors import EliteError
from elite_panel.monitor.report import gpu_placement, human_bytes, rate_and_time_left

if TYPE_CHECKING:
    from elite_panel.client.assistant import AssistantClient


def add_parsers(commands: Any) -> None:
    models = commands.add_parser("models", help="the runner's models: list, pull, remove...")
    action = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = action.add_parser("list", help="installed models")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    ps = action.add_parser("ps", help="models in memory, and how much is on the GPU")
    ps.add_argument("--json", action="store_true", help="machine-readable output")
    pull = action.add_parser("pull", help="download a model (Ollama), with progress")
    pull.add_argument("name")
    remove = action.add_parser("rm", help="delete a model")
    remove.add_argument("name")
    imported = action.add_parser("import", help="copy a GGUF file in (built-in runner)")
    imported.add_argument("file", type=Path)
    imported.add_argument("--name", help="the model's name (default: the file's stem)")


async def run_models(
    args: argparse.Namespace,
    client: AssistantClient,
    restart_runner: Callable[[], Awaitable[None]],
) -> int:
    if args.action == "list":
        models = await client.models()
        if args.json:
            out_json({"models": to_json(models)})
            return 0
        for m in models:
            facts = [m.parameter_size, m.quantization, m.family]
            size = human_bytes(m.size) if m.size else "-"
            details = ", ".join(f for f in facts if f)
            window = f"ctx {window_text(m.context_length, m.trained_context_length)}"
            out(f"{m.label():<36} {size:>10}  {window:<22}  {details}\n")
        return 0
    if args.action == "ps":
        loaded = await client.loaded_models()
        if args.json:
            out_json({"models": to_json(loaded)})
            return 0
        for held in loaded:
            where = gpu_placement(held.gpu_share)
            out(
                f"{held.name:<36} {human_bytes(held.size):>10}  {where:<18} "
                f"ctx {held.context_length or '-'}  until {held.expires_at or '-'}\n"
            )
        return 0
    if args.action == "rm":
        await client.delete_model(args.name)
        out(f"deleted {args.name}\n")
        return 0
    if args.action == "pull":
        return await _progress(client.pull_model(args.name), f"pulled {args.name}")
    source = args.file.expanduser().resolve()
    code = await _progress(client.import_model(str(source), args.name), "imported")
    if code == 0:
        out("restarting the runner to serve it…\n")
        await restart_runner()
        out("ready\n")
    return code


async def _progress(events: Any, done_text: str) -> int:
    """Print progress (a line per layer on a terminal: bar, speed, time left)."""
    started, tty = time.monotonic(), sys.stderr.isatty()
    async for event in events:
        if "error" in event:
            raise EliteError(str(event["error"]))
        total, completed = event.get("total"), event.get("completed")
        if total and completed is not None:
            rate = rate_and_time_left(completed, total, time.monotonic() - started)
            line = (
                f"{event.get('status', '')}: {completed / total:6.1%} of "
                f"{human_bytes(total)}, {rate}"
            )
            if tty:
                sys.stderr.write("\r" + line[:100].ljust(100))
            continue
        if tty:
            sys.stderr.write("\n")
        err(str(event.get("status", event)))
    out(f"{done_text}\n")
    return 0
