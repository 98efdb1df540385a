"""What reaches the terminal, and what goes to the log only.

stderr gets one line per message: what failed and why. Tracebacks, Python warnings from
dependencies and Qt's own messages go to the log file and the Log dock; with ``-v`` they
reach stderr too, tracebacks in full.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path
from typing import Final, TextIO

import platformdirs
from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

log = logging.getLogger("mma_qt")

PREFIX: Final = "mma-qt: "
#: Loggers whose records reach a quiet console only at ERROR or above.
QUIET_LOGGERS: Final = ("py.warnings", "qt")
QT_LOGGER: Final = "qt"


def one_line(text: str) -> str:
    """``text`` with its lines joined, so one message is one line on the terminal."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _names_reason(message: str, exc: BaseException) -> bool:
    """Whether ``message`` already says what ``exc`` says (its text, or an OS error's)."""
    reasons = (str(exc), getattr(exc, "strerror", None))
    return any(isinstance(r, str) and r and r in message for r in reasons)


class OneLineFormatter(logging.Formatter):
    """``mma-qt: LEVEL logger: message (Reason: text)`` on one line, without a traceback.

    The record is not changed, so the file and the Log dock still format its traceback.
    """

    def __init__(self) -> None:
        super().__init__(PREFIX + "%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and not _names_reason(message, exc):
            message = f"{message} ({type(exc).__name__}: {exc})"
        copy = logging.makeLogRecord(record.__dict__)
        copy.msg, copy.args = one_line(message), None
        copy.exc_info, copy.exc_text, copy.stack_info = None, None, None
        return super().format(copy)


class QuietFilter(logging.Filter):
    """Keeps Python warnings and Qt's chatter off a quiet console (they are in the log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not any(
            record.name == name or record.name.startswith(name + ".") for name in QUIET_LOGGERS
        )


def console_handler(verbose: bool, stream: TextIO | None = None) -> logging.Handler:
    """stderr: one line per warning or error; with ``verbose`` INFO and full tracebacks."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if verbose:
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(PREFIX + "%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setLevel(logging.WARNING)
        handler.setFormatter(OneLineFormatter())
        handler.addFilter(QuietFilter())
    return handler


def setup_logging(verbose: bool) -> list[logging.Handler]:
    """Console and rotating log file on the root logger; Python warnings into the log.

    Returns the handlers added (the caller adds the Log dock's own).
    """
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    handlers = [console_handler(verbose)]
    root.addHandler(handlers[0])
    log_dir = Path(platformdirs.user_log_dir("mma-qt"))
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_dir / "mma-qt.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("cannot write the log file in %s: %s", log_dir, exc)
    else:
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)
        handlers.append(file_handler)
    logging.captureWarnings(True)
    return handlers


class QtMessageLogger:
    """A Qt message handler: Qt's messages become records of the logger ``qt``.

    Qt may call it from any thread, and logging a record can make Qt warn again (the Log
    dock is a Qt signal): such a nested message goes to stderr rather than round again.
    """

    LEVELS: Final = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def __init__(self) -> None:
        self._logger = logging.getLogger(QT_LOGGER)
        self._local = threading.local()
        self._previous: object = None

    def __call__(self, mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if getattr(self._local, "busy", False):
            print(f"{PREFIX}qt: {message}", file=sys.stderr, flush=True)
            return
        self._local.busy = True
        try:
            self._logger.log(self.LEVELS.get(mode, logging.WARNING), "%s", message)
        finally:
            self._local.busy = False

    def install(self) -> None:
        self._previous = qInstallMessageHandler(self)

    def uninstall(self) -> None:
        """Back to the handler there was before (Qt's default: raw stderr)."""
        previous = self._previous
        qInstallMessageHandler(previous if callable(previous) else None)
