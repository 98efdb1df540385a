"""A read-only view of one stream that appends coalesced text and follows the tail.

The full transcript lives in the core (StreamHub); this widget shows the selected stream
only. New text is collected and inserted at most 10 times a second, as one string at the
end cursor inside an edit block (text layout is the costly part of showing a stream), and
the view follows it until the user scrolls away from the bottom, and again once they
scroll back down.

Following is the user's choice (the bar's actions: wheel, keys, dragging), not a reading of
the scroll bar at each refresh: Qt lays wrapped lines out lazily (and again when the scroll
bar appears and the viewport narrows), which grows the scroll range after the text is in,
and moves the bar to keep the top line in place. Read at the next refresh, the view would
seem scrolled up and stop following for good; while it follows, every such move is pinned
back to the bottom.
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
        #: Keep the tail in view; only the user's scrolling changes it.
        self._follow = True
        bar = self.verticalScrollBar()
        bar.actionTriggered.connect(self._on_user_scroll)
        bar.rangeChanged.connect(self._stay_at_tail)
        bar.valueChanged.connect(self._stay_at_tail)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.flush)
        hub.appended.connect(self._on_appended)

    def show_stream(self, stream_id: str | None) -> None:
        self._pending.clear()
        self._timer.stop()
        self.stream_id = stream_id
        self._follow = True
        self.setPlainText("" if stream_id is None else self._hub.text(stream_id))
        self.moveCursor(QTextCursor.MoveOperation.End)
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())  # the end cursor in view is not the bottom: a line short

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum()

    @property
    def following(self) -> bool:
        return self._follow

    @Slot(int)
    def _on_user_scroll(self, _action: int) -> None:
        """Every user scroll (the bar, the wheel, the keys) triggers a slider action; the
        move is still pending: follow the tail from the bottom only."""
        bar = self.verticalScrollBar()
        self._follow = bar.sliderPosition() >= bar.maximum()

    @Slot()
    def _stay_at_tail(self) -> None:
        """Qt moved the bar (a new range, lines laid out): back to the bottom if following."""
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
        bar = self.verticalScrollBar()
        kept = bar.value()
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        cursor.insertText(text)
        cursor.endEditBlock()
        if self._follow:
            bar.setValue(bar.maximum())
        else:
            bar.setValue(kept)
