"""A read-only view of one stream that appends coalesced text and follows the tail.

The full transcript lives in the core (StreamHub); this widget shows the selected stream
only. New text is inserted as one string per drain at the end cursor inside an edit block,
and the view scrolls with it only if the user was already at the bottom.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from ..core.streams import StreamHub

MAX_BLOCKS = 100_000


class StreamView(QPlainTextEdit):
    def __init__(self, hub: StreamHub, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hub = hub
        self.stream_id: str | None = None
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setMaximumBlockCount(MAX_BLOCKS)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.setPlaceholderText("Select a row to see its stream.")
        hub.appended.connect(self._on_appended)

    def show_stream(self, stream_id: str | None) -> None:
        self.stream_id = stream_id
        self.setPlainText("" if stream_id is None else self._hub.text(stream_id))
        self.moveCursor(QTextCursor.MoveOperation.End)

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum()

    @Slot(object)
    def _on_appended(self, new: dict[str, str]) -> None:
        if self.stream_id is None or self.stream_id not in new:
            return
        follow = self.at_bottom()
        bar = self.verticalScrollBar()
        kept = bar.value()
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        cursor.insertText(new[self.stream_id])
        cursor.endEditBlock()
        if follow:
            bar.setValue(bar.maximum())
        else:
            bar.setValue(kept)
