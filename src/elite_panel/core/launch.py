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


def run_module(args: Sequence[str]) -> None:
    """``MODULE ARGS...``: run MODULE as ``__main__`` with ARGS as its command line (what
    the frozen executable does after ``--run-module``)."""
    module, *rest = args
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
