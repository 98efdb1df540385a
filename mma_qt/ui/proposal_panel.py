"""The Proposal dock: Tier 1's tracks, waiting for the user when a run was planned with
**Plan** (status ``proposed``).

Edit a track's title and description, untick a track to drop it, reorder them (drag, or
Up / Down), then **Accept**: the kept tracks, edited, in their order, go to
``controller.accept_tracks``. Or write a remark and **Re-plan**: Tier 1 is asked again.
A refused edit (``InvalidEdit``) is shown under the field it names, on its track.

The panel follows the run: the session's ``proposal`` events and ``statusChanged``; it
reads the tracks from ``controller.proposed_tracks()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.model.status import RunStatus
from ..core.run.controller import Controller, ControllerError, InvalidEdit
from .dialogs import column
from .forms import error_label, field_of, show_error

log = logging.getLogger(__name__)

TITLE = "Proposal"
#: The fields of a track the user edits here (the others go back as Tier 1 gave them).
EDITED = ("title", "description")
DROPPED = QColor("#9e9e9e")
IdRole = Qt.ItemDataRole.UserRole


class ProposalPanel(QWidget):
    """Tier 1's proposed tracks, editable; Accept and Re-plan call the controller."""

    #: A proposal arrived: the window shows the dock.
    proposed = Signal()
    #: Something to tell in the status bar (a refusal).
    message = Signal(str)

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self._controller = controller
        #: The user's version of each track, by id (Tier 1's fields, edited).
        self._tracks: dict[str, dict[str, Any]] = {}
        self.state = QLabel("No proposal: press Plan to have Tier 1 propose tracks.")
        self.state.setWordWrap(True)
        self.list = self._track_list()
        self.title = QLineEdit()
        self.title.setObjectName("proposalTitle")
        self.description = QPlainTextEdit()
        self.description.setObjectName("proposalDescription")
        self.extra = QLabel()
        self.extra.setWordWrap(True)
        self.errors = {name: error_label() for name in EDITED}
        self.error = error_label()
        self.remark = QLineEdit()
        self.remark.setPlaceholderText("A remark for Tier 1, e.g. \"one track for the CLI\"")
        self.up_button, self.down_button = QPushButton("Up"), QPushButton("Down")
        self.replan_button = QPushButton("Re-plan")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Run the ticked tracks, as edited, in this order")
        self._connect()
        self._lay_out()
        self._set_editable(False)

    def _track_list(self) -> QListWidget:
        tracks = QListWidget()
        tracks.setObjectName("proposalTracks")
        tracks.setToolTip("Untick a track to drop it; drag to reorder")
        tracks.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        tracks.setDefaultDropAction(Qt.DropAction.MoveAction)
        return tracks

    def _connect(self) -> None:
        self.list.currentItemChanged.connect(self._show_current)
        self.list.itemChanged.connect(self._on_item_changed)
        self.title.textEdited.connect(self._on_title_edited)
        self.description.textChanged.connect(self._on_description_changed)
        self.up_button.clicked.connect(self.move_up)
        self.down_button.clicked.connect(self.move_down)
        self.replan_button.clicked.connect(self.replan)
        self.accept_button.clicked.connect(self.accept)
        self.remark.returnPressed.connect(self.replan)
        self._controller.session.bus.published.connect(self._on_event)
        self._controller.session.statusChanged.connect(self._on_status)

    def _lay_out(self) -> None:
        moves = QHBoxLayout()
        moves.addWidget(self.up_button)
        moves.addWidget(self.down_button)
        moves.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(moves)
        form = QFormLayout()
        form.addRow("Title", column(self.title, self.errors["title"]))
        form.addRow("Description", column(self.description, self.errors["description"],
                                          stretch=self.description))
        form.addRow("", self.extra)
        right = QWidget()
        right.setLayout(form)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 2)
        bottom = QHBoxLayout()
        bottom.addWidget(self.remark, 1)
        bottom.addWidget(self.replan_button)
        bottom.addWidget(self.accept_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.error)
        layout.addLayout(bottom)

    # -- following the run ------------------------------------------------------------
    @Slot(object)
    def _on_event(self, event: Mapping[str, Any]) -> None:
        if event.get("type") != "proposal":
            return
        state = event.get("state")
        if state == str(RunStatus.PROPOSED):
            self.load(self._controller.proposed_tracks())
        elif state == "replanning":
            self._set_editable(False)
            self.state.setText("Tier 1 is re-planning with your remark…")
        else:
            self.clear("Tracks accepted: the run goes on.")

    @Slot(str)
    def _on_status(self, status: str) -> None:
        if status == RunStatus.PROPOSED:
            if not self._tracks:
                self.load(self._controller.proposed_tracks())
        elif status == RunStatus.PLANNING:
            self._set_editable(False)  # a re-plan: its tracks replace these
        elif self._tracks:
            self.clear("No proposal: press Plan to have Tier 1 propose tracks.")

    def load(self, tracks: Sequence[Mapping[str, Any]]) -> None:
        """Show Tier 1's proposal (every track kept, in its order) and ask to be shown."""
        self._tracks = {str(t["id"]): dict(t) for t in tracks}
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for track_id in self._tracks:
                item = QListWidgetItem()
                item.setData(IdRole, track_id)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
                item.setCheckState(Qt.CheckState.Checked)
                self.list.addItem(item)
                self._label(item)
        finally:
            self.list.blockSignals(False)
        self.state.setText(f"Tier 1 proposes {len(self._tracks)} track(s): edit, drop "
                           "(untick) or reorder them, then Accept; or Re-plan with a remark.")
        self._set_editable(bool(self._tracks))
        self._clear_errors()
        if self._tracks:
            self.list.setCurrentRow(0)
        self.proposed.emit()

    def clear(self, text: str) -> None:
        self._tracks = {}
        self.list.clear()
        self.state.setText(text)
        self._clear_errors()
        self._set_editable(False)

    def _set_editable(self, editable: bool) -> None:
        for widget in (self.list, self.title, self.description, self.remark, self.up_button,
                       self.down_button, self.replan_button, self.accept_button):
            widget.setEnabled(editable)
        if not editable:  # shown empty; the tracks' drafts stay as they are
            self.title.clear()
            self.description.blockSignals(True)
            self.description.clear()
            self.description.blockSignals(False)
            self.extra.clear()

    # -- editing ----------------------------------------------------------------------
    def current_id(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(IdRole))

    def order(self) -> list[str]:
        """Every track id, in the list's order (dropped ones too)."""
        return [str(self.list.item(row).data(IdRole)) for row in range(self.list.count())]

    def kept(self) -> list[dict[str, Any]]:
        """The tracks Accept sends: the ticked ones, edited, in order."""
        return [self._tracks[str(item.data(IdRole))] for item in self._items()
                if item.checkState() is Qt.CheckState.Checked]

    def _items(self) -> list[QListWidgetItem]:
        return [self.list.item(row) for row in range(self.list.count())]

    def _label(self, item: QListWidgetItem) -> None:
        track = self._tracks[str(item.data(IdRole))]
        item.setText(f"{track['id']} · {track.get('title', '')}")
        dropped = item.checkState() is not Qt.CheckState.Checked
        font = QFont(self.list.font())
        font.setStrikeOut(dropped)
        item.setFont(font)
        item.setForeground(QBrush(DROPPED) if dropped else QBrush())
        item.setToolTip("dropped: not run" if dropped else str(track.get("description", "")))

    @Slot()
    def _show_current(self) -> None:
        track_id = self.current_id()
        track = self._tracks.get(track_id or "")
        self.title.setText("" if track is None else str(track.get("title", "")))
        self.description.blockSignals(True)
        self.description.setPlainText("" if track is None else str(track.get("description", "")))
        self.description.blockSignals(False)
        others = {} if track is None else {k: v for k, v in track.items()
                                             if k not in ("id", *EDITED)}
        self.extra.setText(", ".join(f"{k}: {v}" for k, v in others.items()))
        self.extra.setVisible(bool(others))
        for label in self.errors.values():
            show_error(label, "")

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        self.list.blockSignals(True)
        self._label(item)
        self.list.blockSignals(False)

    @Slot(str)
    def _on_title_edited(self, text: str) -> None:
        self._edit("title", text)

    @Slot()
    def _on_description_changed(self) -> None:
        self._edit("description", self.description.toPlainText())

    def _edit(self, name: str, value: str) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        self._tracks[str(item.data(IdRole))][name] = value
        show_error(self.errors[name], "")
        self._on_item_changed(item)

    @Slot()
    def move_up(self) -> None:
        self._move(-1)

    @Slot()
    def move_down(self) -> None:
        self._move(1)

    def _move(self, step: int) -> None:
        row = self.list.currentRow()
        if row < 0 or not 0 <= row + step < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(row + step, item)
        self.list.setCurrentRow(row + step)

    def set_dropped(self, track_id: str, dropped: bool) -> None:
        for item in self._items():
            if item.data(IdRole) == track_id:
                item.setCheckState(Qt.CheckState.Unchecked if dropped
                                   else Qt.CheckState.Checked)

    # -- answering --------------------------------------------------------------------
    @Slot()
    def accept(self) -> None:
        kept = self.kept()
        self._send("Accept", self._controller.accept_tracks, kept, tracks=kept)

    @Slot()
    def replan(self) -> None:
        self._send("Re-plan", self._controller.replan, [], self.remark.text())

    def _send(self, what: str, command: Callable[..., object], sent: list[dict[str, Any]],
              *args: Any, **kwargs: Any) -> None:
        self._clear_errors()
        try:
            command(*args, **kwargs)
        except InvalidEdit as exc:
            self._show_invalid(exc, sent)
            log.warning("%s: %s", what, exc)
        except ControllerError as exc:
            show_error(self.error, str(exc))
            log.warning("%s: %s", what, exc)
            self.message.emit(f"{what}: {exc}")

    def _show_invalid(self, exc: InvalidEdit, sent: list[dict[str, Any]]) -> None:
        """Select the track the field is on and show the message under the field."""
        index, name = field_of(exc.field, EDITED)
        track_id = next((t for t in self._tracks if t in exc.field), None)
        if track_id is None and index is not None and 0 <= index < len(sent):
            track_id = str(sent[index]["id"])
        if track_id is not None:
            self.list.setCurrentRow(self.order().index(track_id))
        show_error(self.errors[name] if name else self.error, str(exc))

    def _clear_errors(self) -> None:
        for label in (*self.errors.values(), self.error):
            show_error(label, "")
