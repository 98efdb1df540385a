"""A read-only view of one stream that appends coalesced text and follows the tail.

The full transcript lives in the core (StreamHub); this widget shows the selected stream
only. New text is collected and inserted at most 10 times a second, as one string at the
end cursor inside an edit block (text layout is the costly part of showing a stream), and
the view scrolls with it only if the user was already at the bottom. Following is decided
by the user's scrolling (the bar's actions: wheel, keys, dragging), and kept when Qt moves
the bar itself: lines laid out as they are painted shift it off the bottom.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from ..core.live.streams import StreamHub

MAX_BLOCKS = 100_000
REFRESH_MS = 100


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
        self._pending: list[str] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.flush)
        hub.appended.connect(self._on_appended)
        self._follow = True
        bar = self.verticalScrollBar()
        bar.actionTriggered.connect(self._on_scroll_action)
        bar.rangeChanged.connect(self._stay_at_tail)
        bar.valueChanged.connect(self._stay_at_tail)

    def show_stream(self, stream_id: str | None) -> None:
        self._pending.clear()
        self._timer.stop()
        self.stream_id = stream_id
        self.setPlainText("" if stream_id is None else self._hub.text(stream_id))
        self.moveCursor(QTextCursor.MoveOperation.End)
        self._follow = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())  # the end cursor in view is not the bottom: a line short

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum()

    @Slot(int)
    def _on_scroll_action(self, _action: int) -> None:
        """The user scrolled: follow the tail from the bottom only (the move is pending)."""
        bar = self.verticalScrollBar()
        self._follow = bar.sliderPosition() >= bar.maximum()

    @Slot()
    def _stay_at_tail(self) -> None:
        bar = self.verticalScrollBar()
        if self._follow and bar.value() < bar.maximum():
            bar.setValue(bar.maximum())

    @Slot(object)
    def _on_appended(self, new: dict[str, str]) -> None:
        if self.stream_id is None or self.stream_id not in new:
            return
        self._pending.append(new[self.stream_id])
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def flush(self) -> None:
        """Show the text collected since the last refresh (also called before reading)."""
        self._timer.stop()
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        follow = self._follow
        bar = self.verticalScrollBar()
        kept = bar.value()
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        cursor.insertText(text)
        cursor.endEditBlock()
        if follow:
            bar.setValue(bar.maximum())
        else:
            bar.setValue(kept)
