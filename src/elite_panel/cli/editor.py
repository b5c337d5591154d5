"""``elite-panel editor continue|zed|aider [--write]``: an editor's configuration pointing
at the profile's assistant (the local stack, or a team's server), with its chat,
autocompletion (fill-in-the-middle) and embeddings roles where the editor has them.

The key is never written in clear: Continue and aider read it from the environment
(``ELITE_ASSISTANT_API_KEY``; ``eval "$(elite-panel editor env)"`` sets it), Zed keeps it
in the system keychain (pasted once in its settings). ``--write`` merges into the
editor's own file and keeps the old one beside it (``.bak-TIMESTAMP``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elite_panel.cli.console import err, out
from elite_panel.core.errors import EliteError
from embedded_server.backups.files import write_atomic

if TYPE_CHECKING:
    from elite_panel.core.paths import AppPaths
    from elite_panel.core.profiles import Profile

KEY_VARIABLE = "ELITE_ASSISTANT_API_KEY"
PROVIDER = "Elite Coding Assistant"
EDITORS = ("continue", "zed", "aider")


def add_parsers(commands: Any) -> None:
    editor = commands.add_parser(
        "editor", help="configure an editor (Continue, Zed, aider) to use this assistant"
    )
    editor.add_argument(
        "editor",
        choices=(*EDITORS, "env"),
        help="the editor whose configuration to print; env: the shell line that sets "
        f'{KEY_VARIABLE} (eval "$(elite-panel editor env)")',
    )
    editor.add_argument(
        "--write", action="store_true", help="write it into the editor's file (the old one is kept)"
    )
    editor.add_argument("--file", type=Path, help="the file to write (default: the editor's)")
    editor.add_argument(
        "--model", help="the chat model (default: the profile's, else the server's)"
    )


@dataclass(frozen=True)
class Target:
    """What an editor is pointed at."""

    base_url: str  # the OpenAI API's root, .../v1
    chat_model: str
    embedding_model: str
    window: int  # the chat model's context window, in tokens


def target(profile: Profile, chat_model: str, window: int) -> Target:
    if profile.stack.mode == "remote":
        base = profile.remote.url.rstrip("/") + "/v1"
    else:
        base = f"http://127.0.0.1:{profile.assistant.port}/v1"
    return Target(base, chat_model, profile.projects.embedding_model, window)


def continue_config(to: Target) -> str:
    """Continue's ``config.yaml``: chat/edit/apply, autocomplete and embed roles."""
    key = "${{ secrets." + KEY_VARIABLE + " }}"
    models = [
        ("Elite chat", to.chat_model, ["chat", "edit", "apply"]),
        ("Elite autocomplete", to.chat_model, ["autocomplete"]),
        ("Elite embeddings", to.embedding_model, ["embed"]),
    ]
    lines = [f"name: {PROVIDER}", "version: 1.0.0", "schema: v1", "models:"]
    for name, model, roles in models:
        lines += [
            f"  - name: {name}",
            "    provider: openai",
            f"    model: {model}",
            f"    apiBase: {to.base_url}",
            f'    apiKey: "{key}"',
            f"    roles: [{', '.join(roles)}]",
        ]
    lines += ["context:", "  - provider: codebase", "  - provider: file", "  - provider: code", ""]
    return "\n".join(lines)


def zed_block(to: Target) -> dict[str, Any]:
    """Zed's ``language_models`` block for an OpenAI-compatible provider."""
    model = {"name": to.chat_model, "display_name": to.chat_model, "max_tokens": to.window}
    provider = {"api_url": to.base_url, "available_models": [model]}
    return {"language_models": {"openai_compatible": {PROVIDER: provider}}}


def aider_config(to: Target) -> str:
    """aider's ``.aider.conf.yml`` (the key from ``OPENAI_API_KEY``, set from ours)."""
    return "\n".join(
        [
            f"# {PROVIDER}: the key comes from the environment, never from this file:",
            f'#   export OPENAI_API_KEY="${KEY_VARIABLE}"',
            f"openai-api-base: {to.base_url}",
            f"model: openai/{to.chat_model}",
            f"weak-model: openai/{to.chat_model}",
            "",
        ]
    )


def default_file(editor: str) -> Path:
    home = Path.home()
    return {
        "continue": home / ".continue" / "config.yaml",
        "zed": home / ".config" / "zed" / "settings.json",
        "aider": home / ".aider.conf.yml",
    }[editor]


def rendered(editor: str, to: Target, existing: str | None) -> str:
    """The editor's file: ours alone, or (Zed) merged into its settings."""
    if editor == "continue":
        return continue_config(to)
    if editor == "aider":
        return aider_config(to)
    settings: dict[str, Any] = {}
    if existing and existing.strip():
        try:
            settings = json.loads(existing)
        except ValueError as exc:
            raise EliteError(
                f"Zed's settings are not plain JSON (comments?): {exc}; add the block printed "
                "by `elite-panel editor zed` by hand"
            ) from exc
    models = settings.setdefault("language_models", {}).setdefault("openai_compatible", {})
    models.update(zed_block(to)["language_models"]["openai_compatible"])
    return json.dumps(settings, indent=2) + "\n"


def write(file: Path, text: str) -> Path | None:
    """``text`` into ``file``, the old file kept as ``file.bak-TIMESTAMP``; the backup."""
    backup = None
    if file.exists():
        backup = file.with_name(f"{file.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        backup.write_bytes(file.read_bytes())
    write_atomic(file, text, mode=0o644)
    return backup


async def run_editor(args: argparse.Namespace, paths: AppPaths, profile: Profile, key: Any) -> int:
    """``key()``: the key the assistant takes now (the stack's token, or the remote key)."""
    if args.editor == "env":
        out(f"export {KEY_VARIABLE}={shlex.quote(await key())}\n")
        return 0
    chat_model, window = await _chat_model(args, profile, key)
    to = target(profile, chat_model, window)
    file = args.file or default_file(args.editor)
    existing = file.read_text(encoding="utf-8") if file.is_file() else None
    text = rendered(args.editor, to, existing if args.write else None)
    if not args.write:
        out(text)
        err(f'(for {file}; --write writes it there. The key: eval "$(elite-panel editor env)")')
        return 0
    backup = write(file, text)
    kept = f" (the old one kept as {backup})" if backup else ""
    out(f"wrote {file}{kept}\n")
    if args.editor == "zed":
        out(f"In Zed: Settings → LLM Providers → {PROVIDER} → paste the key once (keychain).\n")
    else:
        out('Set the key before starting the editor: eval "$(elite-panel editor env)"\n')
    return 0


async def _chat_model(args: argparse.Namespace, profile: Profile, key: Any) -> tuple[str, int]:
    """The chat model named (option, profile) or the server's first, with its window."""
    from elite_panel.client.assistant import AssistantClient

    named = args.model or profile.assistant.default_model
    try:
        client = AssistantClient(target(profile, "", 0).base_url.removesuffix("/v1"), await key())
        try:
            models = [m for m in await client.models() if not m.embedding]
        finally:
            await client.aclose()
    except EliteError as exc:
        if named:
            return named, 8192
        raise EliteError(
            f"no model named and the assistant did not list its models: {exc}"
        ) from exc
    chosen = next((m for m in models if m.name == named), models[0] if models else None)
    if chosen is None:
        raise EliteError("the assistant has no chat model yet: pull or import one first")
    return chosen.name, chosen.context_length or 8192
