"""The docs site's reference pages, generated from the code as the site is built.

A page asks for a reference with a marker line, ``<!-- reference: NAME -->``: ``panel-cli``
and ``server-cli`` (every command and option, from the commands' own parsers), ``profile``
(every profile key from its schema), ``server-settings`` (every ``ASSISTANT_*`` variable from
the server's settings) and ``http-api`` (every route from the OpenAPI schema). A renamed
option, key or route changes the site with the code; ``mkdocs build --strict`` fails on a
marker it does not know.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!-- reference: ([a-z-]+) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replaces each reference marker of a page by its generated Markdown."""

    def generated(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in REFERENCES:
            raise ValueError(f"unknown reference {name!r} (known: {', '.join(REFERENCES)})")
        return REFERENCES[name]()

    return MARKER.sub(generated, markdown)


def panel_cli() -> str:
    from elite_panel.cli import build_parser

    return "\n".join(_commands(build_parser(), "elite-panel"))


def server_cli() -> str:
    from embedded_server.__main__ import build_parser

    return "\n".join(_commands(build_parser(), "elite-assistant-server"))


def _commands(parser: argparse.ArgumentParser, name: str, level: int = 2) -> Iterator[str]:
    """A command's usage, its options as a table, then each subcommand under it."""
    yield f"{'#' * level} `{name}`\n"
    if parser.description:
        yield parser.description + "\n"
    yield f"```\n{parser.format_usage().removeprefix('usage: ').strip()}\n```\n"
    options = [
        action
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction)
    ]
    if options:
        yield "| argument | what |\n|---|---|"
        for action in options:
            yield f"| {_argument(action)} | {_what(action)} |"
        yield ""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for sub_name, sub in action.choices.items():
                if helps.get(sub_name) and not sub.description:
                    sub.description = helps[sub_name]
                yield from _commands(sub, f"{name} {sub_name}", min(level + 1, 4))


def _argument(action: argparse.Action) -> str:
    if action.option_strings:
        flags = ", ".join(f"`{flag}`" for flag in action.option_strings)
        takes = action.nargs != 0 and action.metavar != argparse.SUPPRESS
        return flags + (f" `{action.metavar or action.dest.upper()}`" if takes else "")
    return f"`{action.metavar or action.dest}`" + (" (optional)" if action.nargs == "?" else "")


def _what(action: argparse.Action) -> str:
    parts = [_cell(action.help or "")]
    if action.choices and not isinstance(action.choices, dict):
        parts.append("one of " + ", ".join(f"`{c}`" for c in action.choices))
    return "; ".join(p for p in parts if p)


def profile() -> str:
    from elite_panel.core.profile_store import schema_fields
    from elite_panel.core.profiles import env_var_name

    lines = []
    section = None
    for field in schema_fields():
        if field.section != section:
            section = field.section
            lines += [
                f"\n## `[{section}]`\n",
                "| key | type | default | variable | what |",
                "|---|---|---|---|---|",
            ]
        kind = " \\| ".join(f"`{c}`" for c in field.choices) if field.choices else field.kind
        default = "(none)" if field.default in (None, "") else f"`{field.default!r}`"
        variable = env_var_name(*field.section.split("."), field.key)
        lines.append(
            f"| `{field.key}` | {kind} | {_cell(default)} | `{variable}` | "
            f"{_cell(field.description)} |"
        )
    return "\n".join(lines) + "\n"


def server_settings() -> str:
    from pydantic import AliasChoices

    from embedded_server.config import Settings

    lines = ["| variable | type | default |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        names = [f"ASSISTANT_{name.upper()}"]
        if isinstance(info.validation_alias, AliasChoices):
            names = [str(choice) for choice in info.validation_alias.choices]
        default = info.get_default(call_default_factory=True)
        shown = "(none)" if default in (None, "", [], {}) else f"`{default!r}`"
        if "secret" in repr(type(default)).lower():
            shown = "(secret)"
        kind = getattr(info.annotation, "__name__", str(info.annotation))
        lines.append(f"| {', '.join(f'`{n}`' for n in names)} | {_cell(kind)} | {_cell(shown)} |")
    return "\n".join(lines) + "\n"


def http_api() -> str:
    from embedded_server.app import create_app
    from embedded_server.config import Settings

    with tempfile.TemporaryDirectory() as data:
        schema = create_app(Settings(data_dir=Path(data), api_token="docs")).openapi()
    lines = ["| method | path | what |", "|---|---|---|"]
    for path, methods in sorted(schema["paths"].items()):
        for method, operation in methods.items():
            what = (operation.get("description") or operation.get("summary") or "").split("\n")
            lines.append(f"| {method.upper()} | `{path}` | {_cell(what[0])} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


REFERENCES: dict[str, Callable[[], str]] = {
    "panel-cli": panel_cli,
    "server-cli": server_cli,
    "profile": profile,
    "server-settings": server_settings,
    "http-api": http_api,
}
