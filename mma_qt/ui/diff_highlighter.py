"""Colours for a unified diff: added and removed lines, hunk headers, file headers."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

ADDED = QColor("#1a7f37")
REMOVED = QColor("#c62828")
HUNK = QColor("#6f42c1")
HEADER = QColor("#57606a")


def _format(color: QColor, *, bold: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(color)
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    return fmt


class DiffHighlighter(QSyntaxHighlighter):
    """Highlights its document as a unified diff while ``active`` (other text: plain)."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.active = False
        self._added = _format(ADDED)
        self._removed = _format(REMOVED)
        self._hunk = _format(HUNK, bold=True)
        self._header = _format(HEADER, bold=True)

    def line_format(self, line: str) -> QTextCharFormat | None:
        """The format of one diff line, or None for a context line."""
        if line.startswith(("+++", "---", "diff ", "index ")):
            return self._header
        if line.startswith("@@"):
            return self._hunk
        if line.startswith("+"):
            return self._added
        if line.startswith("-"):
            return self._removed
        return None

    def highlightBlock(self, text: str) -> None:
        fmt = self.line_format(text) if self.active else None
        if fmt is not None:
            self.setFormat(0, len(text), fmt)
