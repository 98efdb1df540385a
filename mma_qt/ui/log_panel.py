"""Warnings and errors of the app, shown in a dock as they happen (from any thread)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QPlainTextEdit, QWidget


class _Relay(QObject):
    record = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler that hands formatted records to the GUI thread by a queued signal."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.relay = _Relay()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.relay.record.emit(self.format(record))
        except RuntimeError:
            # The relay's C++ object is gone (the app is closing): report the record
            # through logging's own error path rather than losing it silently.
            self.handleError(record)


class LogPanel(QPlainTextEdit):
    def __init__(self, handler: QtLogHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self.setPlaceholderText("Warnings and errors appear here.")
        handler.relay.record.connect(self.add, Qt.ConnectionType.QueuedConnection)

    @Slot(str)
    def add(self, line: str) -> None:
        self.appendPlainText(line)
