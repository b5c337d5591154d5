"""The ``elite-panel`` command (and ``python -m elite_panel``, and the frozen app's
executable): the window without a subcommand, else the command line. The one module that
knows both composition roots. ``--run-module MODULE ARGS...`` runs one of the processes the
supervisor starts (the frozen app has no ``python -m``; see :mod:`elite_panel.core.launch`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from elite_panel import cli
from elite_panel.core.launch import RUN_MODULE, run_module
from elite_panel.core.paths import AppPaths


def _open_window(paths: AppPaths, profile: str, options: argparse.Namespace) -> int:
    from elite_panel.gui import run_gui  # Qt is imported only when the window opens

    return int(
        run_gui(
            paths,
            profile,
            options.page,
            hidden=options.hidden,
            start_stack=options.start_stack,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [RUN_MODULE] and len(args) >= 2:
        run_module(args[1:])
        return 0
    return cli.main(args, open_window=_open_window)


if __name__ == "__main__":
    raise SystemExit(main())
