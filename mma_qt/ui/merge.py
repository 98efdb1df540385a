"""Merge track: which track the action merges, whether it can now, and what came of it.

The merge itself runs in the controller's worker thread (``Controller.start_merge``); its
``merge`` event says how it ended, which :meth:`MergeControl.describe` turns into the
status bar's line. The GUI never waits on git.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QTreeView

from ..core.run.controller import Controller, ControllerError
from .tree_model import MmaTreeModel

log = logging.getLogger(__name__)


class MergeControl:
    """The track of the selected row (else the active track), and the merges done."""

    def __init__(self, controller: Controller, model: MmaTreeModel, tree: QTreeView) -> None:
        self.controller = controller
        self.model = model
        self.tree = tree
        #: Tracks merged in this session: not offered again.
        self.merged: set[str] = set()

    def target(self) -> str | None:
        """The selected row's track, else the active track (None before any plan)."""
        track_id = self.model.track_id(self.tree.currentIndex())
        active = self.controller.session.active_track
        return track_id or (None if active is None else active.id)

    def possible(self) -> bool:
        """Whether Merge track can be pressed: a done track, on git, not merged yet."""
        track_id = self.target()
        return (track_id is not None and track_id not in self.merged
                and self.controller.can_merge(track_id))

    def start(self) -> None:
        """Start merging the target track (ControllerError: why it cannot be merged)."""
        track_id = self.target()
        if track_id is None:
            raise ControllerError("no track planned yet")
        self.controller.start_merge(track_id)

    def describe(self, event: dict[str, Any]) -> str:
        """The status bar's line for a ``merge`` event (and remember a merged track)."""
        track_id = event["track_id"]
        if event["state"] != "merged":
            return f"Merge of track {track_id} refused: {event['message']}"
        self.merged.add(track_id)
        text = (f"Merged track {track_id} ({event['branch']}) into {event['into']}: "
                f"commit {event['commit'][:12]}")
        log.info("%s", text)
        return text
