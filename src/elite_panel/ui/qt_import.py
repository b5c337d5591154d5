"""PySide6 imported for the window's process, without the import hook it installs.

Importing PySide6 replaces ``builtins.__import__`` with a hook that serves
``from __feature__ import snake_case, true_property``: it reads the source of every module
imported afterwards to see whether it names PySide6, about 18 ms of the panel's start (most
of its modules come after Qt's). The panel uses no ``__feature__``, so the original import,
which PySide keeps as ``builtins.__orig_import__``, is put back. The window's composition
root imports this module before any other that needs Qt.
"""

from __future__ import annotations

import builtins

import PySide6.QtCore  # noqa: F401  (installs the hook)

builtins.__import__ = getattr(builtins, "__orig_import__", builtins.__import__)
