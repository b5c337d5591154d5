"""The frozen application's one executable (PyInstaller's entry script): the panel and its
commands, or, with ``--run-module``, one of the processes the supervisor starts."""

import sys

from elite_panel.__main__ import main

sys.exit(main())
