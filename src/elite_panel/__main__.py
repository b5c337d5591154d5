"""The ``elite-panel`` command (and ``python -m elite_panel``): the window without a
subcommand, else the command line. The one module that knows both composition roots."""

from __future__ import annotations

from collections.abc import Sequence

from elite_panel import cli
from elite_panel.core.paths import AppPaths


def _open_window(paths: AppPaths, profile: str, page: str | None) -> int:
    from elite_panel.app import run_gui  # Qt is imported only when the window opens

    return int(run_gui(paths, profile, page))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, open_window=_open_window)


if __name__ == "__main__":
    raise SystemExit(main())
