"""Errors nobody caught, shown: an exception in a Qt slot (``sys.excepthook``), a failed
background task or any other ERROR record is logged and shown in the status bar."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from PySide6.QtCore import QObject, Signal

from elite_panel.core import redaction

log = logging.getLogger("elite_panel.errors")


class ErrorReporter(QObject):
    """Turns uncaught exceptions and ERROR log records into one-line messages.

    Signals:
        errorOccurred(str): a short description, for the status bar (secrets redacted by
            the root logger's filters, like every log line).
    """

    errorOccurred = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._handler = _ToSignal(self)
        self._previous_hook = sys.excepthook

    def install(self) -> None:
        """Catch what slots raise, and show every ERROR record from now on."""
        sys.excepthook = self._excepthook
        logging.getLogger().addHandler(self._handler)

    def uninstall(self) -> None:
        sys.excepthook = self._previous_hook
        logging.getLogger().removeHandler(self._handler)

    def _excepthook(
        self, kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        log.error("unexpected error: %s", error or kind.__name__, exc_info=(kind, error, tb))


class _ToSignal(logging.Handler):
    """A logging handler that emits each ERROR record's message (one line) as a signal."""

    def __init__(self, reporter: ErrorReporter) -> None:
        super().__init__(logging.ERROR)
        self.reporter = reporter
        self.addFilter(redaction.RedactingFilter(redaction.known))  # as on every handler

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record).splitlines()[0] if record.msg else record.levelname
        except Exception:  # a broken record must not raise from the logging call
            self.handleError(record)
            return
        self.reporter.errorOccurred.emit(message)
