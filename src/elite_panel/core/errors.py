"""Errors that carry a message meant for the person at the keyboard.

Every layer raises a subclass of :class:`EliteError` for conditions the user can act on;
the CLI prints the message (no traceback) and the GUI shows it where the action happened.
"""


class EliteError(Exception):
    """An error whose ``str()`` is a complete, user-facing explanation.

    Attributes:
        code: what went wrong, for code that decides by it (never by the message's words):
            the class's own :attr:`code`, or one given (an error from another process keeps
            the code it was raised with).
    """

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code or type(self).code


class ConfigError(EliteError):
    """A profile or environment variable holds an invalid value."""


class StackError(EliteError):
    """The local stack could not do what was asked (port taken, start failed, ...)."""


class DaemonUnavailable(StackError):
    """The supervisor daemon is not running or its control channel cannot be reached."""

    code = "no_supervisor"


class NoRunnerFound(StackError):
    """``runner.kind = auto`` found no model runner on this machine."""

    code = "no_runner"


class AssistantError(EliteError):
    """The assistant server refused or failed a request.

    Attributes:
        code: the server's error ``code`` (``model_not_found``, ``rate_limited``...), or
            ``unreachable`` when no answer came.
    """


class KeyringUnavailable(EliteError):
    """No usable OS keyring (none installed, none running, or locked)."""


class ConfigConflict(ConfigError):
    """A profile changed on disk since the editor read it."""
