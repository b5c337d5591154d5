"""How the panel starts its own Python modules as processes, and the frozen app's entry.

From a checkout or a virtual environment a module runs as ``python -m module``.  A frozen
application (PyInstaller) has no ``python``: its one executable takes
``--run-module module args...`` and runs that module as ``__main__`` (the supervisor, the
assistant server, the built-in runner, the secrets helper), and otherwise is
``elite-panel``.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

RUN_MODULE = "--run-module"


def frozen() -> bool:
    """Whether this is the frozen application's executable."""
    return bool(getattr(sys, "frozen", False))


def module_argv(module: str, *args: str) -> tuple[str, ...]:
    """The command line that runs ``module`` with ``args`` in a new process."""
    if frozen():
        return (sys.executable, RUN_MODULE, module, *args)
    return (sys.executable, "-m", module, *args)


def main(argv: Sequence[str] | None = None) -> int:
    """The frozen executable: ``--run-module MODULE ARGS...``, else ``elite-panel ARGS...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [RUN_MODULE] and len(args) >= 2:
        module = args[1]
        sys.argv = [module, *args[2:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from elite_panel.__main__ import main as panel_main

    return panel_main(args)
