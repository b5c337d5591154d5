"""``elite-panel config ...`` and ``elite-panel secrets ...``: profiles and keyring secrets.

Kept apart from :mod:`elite_panel.cli` so that the stack commands do not import keyring or
tomlkit. A secret's value is read from standard input or a hidden prompt, never from the
command line (where ``ps`` and the shell history would keep it).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from elite_panel.cli.console import err, out, out_json
from elite_panel.core.errors import ConfigError
from elite_panel.core.paths import AppPaths

EXIT_INVALID = 2


def add_parsers(commands: Any) -> None:
    config = commands.add_parser("config", help="show, validate and edit configuration profiles")
    action = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = action.add_parser("show", help="the profile's values and where each comes from")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    validate = action.add_parser("validate", help="check a profile file (exit 2 on errors)")
    validate.add_argument("file", nargs="?", type=Path, help="default: the active profile's")
    setting = action.add_parser("set", help="set SECTION.KEY in the profile, validated first")
    setting.add_argument("key", help="for example runner.kind")
    setting.add_argument("value", help='a TOML value (8001, true, "text") or plain text')
    for sub in (show, validate, setting):
        sub.add_argument(
            "--profile",
            dest="config_profile",
            default=argparse.SUPPRESS,
            help="this profile instead of the active one",
        )
    action.add_parser("profiles", help="list the profiles; * marks the active one")
    use = action.add_parser("use", help="make a profile the active one")
    use.add_argument("name")

    secrets = commands.add_parser("secrets", help="API keys and passwords in the OS keyring")
    action = secrets.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = action.add_parser("list", help="which secrets are set, and from where")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    put = action.add_parser("set", help="store a secret (value from stdin or a hidden prompt)")
    put.add_argument("name", help="for example OPENAI_API_KEY")
    remove = action.add_parser("delete", help="remove a secret from the keyring")
    remove.add_argument("name")


def run_config(args: argparse.Namespace, paths: AppPaths, profile: str) -> int:
    from elite_panel.core.profile_store import ProfileStore
    from elite_panel.core.profiles import validate_text

    store = ProfileStore(paths)
    profile = getattr(args, "config_profile", profile)
    if args.action == "profiles":
        active = store.active()
        for name in store.names():
            out(f"{'*' if name == active else ' '} {name}\n")
        return 0
    if args.action == "use":
        store.use(args.name)
        out(f"active profile: {args.name}\n")
        return 0
    if args.action == "validate":
        path = args.file or store.path(profile)
        try:
            # The file alone: a variable overriding a key must not hide its error there.
            validate_text(path.read_text(encoding="utf-8"), path, environ={})
        except (OSError, UnicodeDecodeError) as exc:
            err(f"{path}: cannot read it: {exc}")
            return EXIT_INVALID
        except ConfigError as exc:
            for problem in str(exc).removeprefix("invalid profile: ").split("; "):
                err(problem)
            return EXIT_INVALID
        out(f"{path}: valid\n")
        return 0
    if args.action == "set":
        store.set_value(profile, args.key, args.value)
        out(f"{args.key} set in profile {profile!r}\n")
        return 0
    values = store.load(profile).model_dump(mode="json")
    sources = store.sources(profile)
    if args.json:
        out(json.dumps({"profile": profile, "values": values, "sources": sources}, indent=2))
        out("\n")
        return 0
    out(f"# profile {profile} ({store.path(profile)})\n")
    for section, table in values.items():
        _show_table(section, table, sources)
    return 0


def _show_table(name: str, table: dict[str, Any], sources: dict[str, str]) -> None:
    """One TOML table of ``config show``: its keys with their sources, then its sub-tables
    (``[runner.docker]``); a key is what ``sources`` names, a table what it does not."""
    out(f"[{name}]\n")
    tables = []
    for key, value in table.items():
        path = f"{name}.{key}"
        if path in sources:
            out(f"{key:<18} = {json.dumps(value):<24}  # {sources[path]}\n")
        else:
            tables.append((path, value))
    for path, value in tables:
        _show_table(path, value, sources)


def run_secrets(args: argparse.Namespace, paths: AppPaths) -> int:
    from elite_panel.core.secret_store import SecretStore, check_name

    store = SecretStore(paths)
    if args.action == "list":
        entries, problem = store.entries()
        if args.json:
            body = {"keyring": problem or "ok", "secrets": [e.to_json() for e in entries]}
            out_json(body)
            return 0
        if problem:
            err(f"warning: {problem}")
        for e in entries:
            where = e.source or "not set"
            tail = f" …{e.last4}" if e.last4 else ""
            out(f"{e.name:<22} {where + tail:<22} {', '.join(e.services):<18} {e.description}\n")
        return 0
    name = check_name(args.name)
    if args.action == "delete":
        removed = store.delete(name)
        out(f"{name} deleted\n" if removed else f"{name} was not in the keyring\n")
        return 0
    store.backend()  # fail before asking for the value when there is no keyring
    tty = sys.stdin.isatty()
    value = getpass.getpass(f"{name}: ") if tty else sys.stdin.read().rstrip("\r\n")
    store.set(name, value)
    out(f"{name} stored in the OS keyring\n")
    return 0
