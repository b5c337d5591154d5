"""The supervisor daemon: a detached process that runs the stack's supervisor, its
sampling and its backup schedule, and serves them on the control socket.

Started by :func:`elite_panel.stack.control.ensure_daemon` as ``python -m
elite_panel.daemon`` (:mod:`elite_panel.daemon.__main__` is its composition root); one per
``ELITE_HOME``, held by an exclusive lock on ``supervisor.lock``, which names its pid.
"""

import sys

# httpx imports its command-line tool's libraries (click, rich, pygments) whenever they are
# installed; this long-lived process has no use for them (about 5 MB at rest).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
