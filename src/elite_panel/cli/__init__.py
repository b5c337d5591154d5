"""The ``elite-panel`` command: no arguments opens the panel; subcommands work headless.

Heavy modules (Qt, asyncio, the HTTP clients) are imported inside the commands that need
them, so ``elite-panel stack status`` stays quick and the window paints before asyncio.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Sequence

from elite_panel import __version__
from elite_panel.cli.console import err, out
from elite_panel.core import profile_names, redaction
from elite_panel.core.errors import EliteError
from elite_panel.core.kinds import RunnerKind
from elite_panel.core.paths import AppPaths
from elite_panel.core.services import SERVICE_NAMES

log = logging.getLogger("elite_panel")

RUNNER_CHOICES = [kind.value for kind in RunnerKind]
PAGES = (
    "chat",
    "dashboard",
    "stack",
    "projects",
    "models",
    "settings",
    "secrets",
    "backups",
    "welcome",
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line. The commands' parsers are built only when something besides the
    window's options is given (building them all takes about 15 ms of the window's start)."""
    window = argparse.ArgumentParser(prog="elite-panel", add_help=False)
    _add_options(window)
    window.set_defaults(command=None)
    options, rest = window.parse_known_args(argv)
    return build_parser().parse_args(argv) if rest else options


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the window's options and every command."""
    from elite_panel.cli import backup as cli_backup
    from elite_panel.cli import doctor as cli_doctor
    from elite_panel.cli import editor as cli_editor
    from elite_panel.cli import models as cli_models
    from elite_panel.cli import projects as cli_projects
    from elite_panel.cli import settings as cli_settings

    parser = argparse.ArgumentParser(
        prog="elite-panel",
        description="Control panel for a local AI coding assistant. "
        "Without a command, opens the desktop panel.",
    )
    _add_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    stack = commands.add_parser("stack", help="start, stop and watch the local stack")
    actions = stack.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start the stack and wait until it is ready")
    up.add_argument("--runner", choices=RUNNER_CHOICES, help="override runner.kind")
    actions.add_parser("down", help="stop every service and the supervisor")
    restart = actions.add_parser("restart", help="restart one service or the whole stack")
    restart.add_argument("service", nargs="?", choices=SERVICE_NAMES)
    for name, what in (("start", "start"), ("stop", "stop")):
        one = actions.add_parser(name, help=f"{what} one service")
        one.add_argument("service", choices=SERVICE_NAMES)
    status = actions.add_parser("status", help="show the services' states")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    logs = actions.add_parser("logs", help="show a service's output")
    logs.add_argument("service", choices=SERVICE_NAMES)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=100, help="lines of history (100)")

    talks = commands.add_parser("conversations", help="list, show, export, delete conversations")
    talk = talks.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = talk.add_parser("list", help="newest first, pinned on top")
    listing.add_argument("-q", "--query", default="", help="search titles and message text")
    listing.add_argument("-n", "--limit", type=int, default=50, help="how many (50)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    show = talk.add_parser("show", help="a conversation with its messages")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    export = talk.add_parser("export", help="print a conversation as Markdown or JSON")
    export.add_argument("id")
    export.add_argument("--format", choices=["markdown", "json"], default="markdown")
    delete = talk.add_parser("delete", help="delete a conversation and its messages")
    delete.add_argument("id")

    metrics = commands.add_parser(
        "metrics", help="host, GPU, services, models and server figures (one sample or a stream)"
    )
    metrics.add_argument("--json", action="store_true", help="one JSON object per sample")
    metrics.add_argument("--watch", action="store_true", help="keep sampling until Ctrl+C")
    metrics.add_argument(
        "--interval", type=float, default=1.0, help="seconds between samples (1.0)"
    )

    exporter = commands.add_parser(
        "exporter", help="serve this machine's metrics to Prometheus (host, GPUs as DCGM names)"
    )
    exporter.add_argument(
        "--listen", default="127.0.0.1:9401", help="HOST:PORT (127.0.0.1:9401; :9401 = all)"
    )
    exporter.add_argument(
        "--interval", type=float, default=5.0, help="seconds between samples (5.0)"
    )

    cli_settings.add_parsers(commands)
    cli_backup.add_parsers(commands)
    cli_models.add_parsers(commands)
    cli_projects.add_parsers(commands)
    cli_editor.add_parsers(commands)
    cli_doctor.add_parsers(commands)

    chat = commands.add_parser("chat", help="ask the assistant; the answer streams to stdout")
    chat.add_argument("--model", help="model name (default: the server's default)")
    chat.add_argument(
        "--conversation", metavar="ID", help="continue this conversation (its id is printed)"
    )
    chat.add_argument(
        "--context-policy",
        choices=("drop_oldest", "truncate_middle", "refuse"),
        help="when the conversation outgrows the model's window: leave out the oldest "
        "messages (the server's default), cut the middle of an over-long message, or refuse",
    )
    chat.add_argument(
        "--project",
        metavar="NAME",
        action="append",
        default=[],
        help="answer from this indexed project's code (as @NAME in the prompt; repeatable): "
        "the chunks found are cited as path:line",
    )
    chat.add_argument("prompt", nargs="?", help="the prompt (default: read standard input)")
    return parser


def _add_options(parser: argparse.ArgumentParser) -> None:
    """The options outside the commands (those of the window, and --paths)."""
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--paths",
        action="store_true",
        help="print the folders of configuration, data, state and logs, then exit",
    )
    parser.add_argument(
        "--profile",
        help="configuration profile (default: $ELITE_PROFILE, else the one chosen with "
        "`config use`, else 'default')",
    )
    parser.add_argument("--page", choices=PAGES, help="open the panel on this page")
    parser.add_argument(
        "--hidden",
        action="store_true",
        help="start in the tray without showing the window (at login; shown anyway "
        "where the desktop has no tray)",
    )
    parser.add_argument(
        "--start-stack", action="store_true", help="bring the stack up as the panel starts"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")


OpenWindow = Callable[[AppPaths, str, argparse.Namespace], int]  # the window's options


def main(argv: Sequence[str] | None = None, open_window: OpenWindow | None = None) -> int:
    """Run one command; without one, ``open_window`` (the window's composition root,
    handed in by :mod:`elite_panel.__main__`: the commands never import Qt)."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    redaction.install()
    paths = AppPaths.from_env()
    if args.paths:
        out("".join(f"{name:7} {folder}\n" for name, folder in paths.folders().items()))
        return 0
    try:
        profile_name = args.profile or _active_profile(paths)
        if args.command is None:
            if open_window is None:
                raise EliteError("the window is not available here: give a command (see --help)")
            return open_window(paths, profile_name, args)
        from elite_panel.cli import backup as cli_backup
        from elite_panel.cli import settings as cli_settings

        if args.command == "config":
            return cli_settings.run_config(args, paths.ensure(), profile_name)
        if args.command == "secrets":
            return cli_settings.run_secrets(args, paths.ensure())
        if args.command == "doctor":  # (a profile that does not load is one of its checks)
            from elite_panel.cli import doctor as cli_doctor

            return cli_doctor.run_doctor(args, paths.ensure(), profile_name)
        from elite_panel.core.profiles import load_profile

        profile = load_profile(paths.ensure(), profile_name)
        if args.command == "backup":
            return cli_backup.run_backup(args, paths, profile)
        from elite_panel.cli import commands as cli_commands

        return cli_commands.run(args, paths, profile)
    except EliteError as exc:
        err(f"error: {redaction.known(str(exc))}")
        return 1
    except KeyboardInterrupt:
        return 130


def _active_profile(paths: AppPaths) -> str:
    return profile_names.active(paths, os.environ)
