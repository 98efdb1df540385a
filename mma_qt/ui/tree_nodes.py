"""The rows of the live tree as node objects: each knows its parent, its children and its
row under its parent (as equinor/ert's ``gui/model/node.py`` does), so the tree can grow
to any depth: tiers, tracks, ticket streams and, later, their attempts.

A node's ``uid`` is its identity for Qt (``QModelIndex.internalId``), stable for as long
as the node is in the tree; the model maps it back to the node.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator

from ..core.model.domain import Tier
from ..core.model.records import StreamRecord


class Node:
    __slots__ = ("children", "parent", "row", "uid")

    def __init__(self, uid: int) -> None:
        self.uid = uid
        self.parent: Node | None = None
        self.children: list[Node] = []
        #: The row under the parent. Rows are only ever appended; whoever removes or
        #: reorders children must renumber the siblings that follow.
        self.row = 0

    def append(self, child: Node) -> None:
        child.parent = self
        child.row = len(self.children)
        self.children.append(child)

    def ancestors(self) -> Iterator[Node]:
        """Parent, grandparent, ... up to (not including) the invisible root."""
        node = self.parent
        while node is not None and node.parent is not None:
            yield node
            node = node.parent

    def descendants(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            yield from child.descendants()

    def records(self) -> list[StreamRecord]:
        """The streams below this node, in tree order."""
        return [n.record for n in self.descendants() if isinstance(n, StreamNode)]


class RootNode(Node):
    """The invisible root: its children are the top-level rows."""

    __slots__ = ()


class GroupNode(Node):
    """A row that rolls up the streams below it, all of one tier."""

    __slots__ = ("tier",)

    def __init__(self, uid: int, tier: Tier) -> None:
        super().__init__(uid)
        self.tier = tier


class TierNode(GroupNode):
    __slots__ = ()


class TrackNode(GroupNode):
    """A track's row inside a tier, grouping that tier's streams of the track."""

    __slots__ = ("title", "track_id")

    def __init__(self, uid: int, tier: Tier, track_id: str, title: str) -> None:
        super().__init__(uid, tier)
        self.track_id = track_id
        self.title = title


class StreamNode(Node):
    __slots__ = ("record",)

    def __init__(self, uid: int, record: StreamRecord) -> None:
        super().__init__(uid)
        self.record = record


class RowTree:
    """Every node of the tree, found by uid or by stream id.

    The invisible root holds the four tier rows, which live as long as the tree. Below a
    tier, a stream's row sits directly, or under its track's row when the tier is one of
    ``track_tiers``.
    """

    def __init__(self, track_tiers: Collection[Tier] = ()) -> None:
        self._track_tiers = frozenset(track_tiers)
        self._uids = itertools.count(1)
        self.root = RootNode(0)
        self.tiers: dict[Tier, TierNode] = {}
        for tier in Tier:
            self.tiers[tier] = node = TierNode(next(self._uids), tier)
            self.root.append(node)
        self.nodes: dict[int, Node] = {}
        self.streams: dict[str, StreamNode] = {}
        self.tracks: dict[tuple[Tier, str], TrackNode] = {}
        self.clear()

    def clear(self) -> None:
        """Drop every row below the tiers."""
        for node in self.tiers.values():
            node.children = []
        self.nodes = {node.uid: node for node in self.tiers.values()}
        self.streams.clear()
        self.tracks.clear()

    def new_rows(
        self, record: StreamRecord, track_title: Callable[[str], str]
    ) -> list[tuple[Node, Node]]:
        """The rows a new stream needs, as (parent, node) in the order to :meth:`attach`:
        its track's row if the track has none yet, then its own."""
        rows: list[tuple[Node, Node]] = []
        parent: Node = self.tiers[record.tier]
        if record.track_id is not None and record.tier in self._track_tiers:
            key = (record.tier, record.track_id)
            track = self.tracks.get(key)
            if track is None:
                track = self.tracks[key] = TrackNode(
                    next(self._uids), record.tier, record.track_id, track_title(record.track_id)
                )
                rows.append((parent, track))
            parent = track
        node = self.streams[record.stream_id] = StreamNode(next(self._uids), record)
        rows.append((parent, node))
        return rows

    def attach(self, parent: Node, node: Node) -> None:
        parent.append(node)
        self.nodes[node.uid] = node
