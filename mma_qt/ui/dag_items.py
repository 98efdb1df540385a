"""The pieces of the Graph dock's picture: a ticket's node, a dependency's arrow, the legend.

A node paints itself from a few fields (:class:`NodeState`) and is cached as a pixmap
(``DeviceCoordinateCache``), so a status change repaints that one node and nothing else.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from ..core.model.status import TicketStatus
from .tree_cells import STATUS_COLORS

NODE_W, NODE_H = 176.0, 50.0
#: Space between ranks (columns) and between neighbours in a rank.
RANK_GAP, NODE_GAP = 64.0, 16.0
#: A light fill per status.
FILLS: dict[TicketStatus, str] = {
    TicketStatus.TODO: "#eceff1",
    TicketStatus.WAITING: "#fff3c4",
    TicketStatus.IN_PROGRESS: "#bbdefb",
    TicketStatus.COMPLETED: "#c8e6c9",
    TicketStatus.FAILED: "#ffcdd2",
    TicketStatus.BLOCKED: "#ffe0b2",
    TicketStatus.SKIPPED: "#e1bee7",
    TicketStatus.CANCELLED: "#e0e0e0",
    TicketStatus.INTERRUPTED: "#d1c4e9",
}
#: The outlines of the statuses the tree leaves uncoloured (they wait).
_WAITING_OUTLINES = {TicketStatus.TODO: "#90a4ae", TicketStatus.WAITING: "#c79100"}
#: (fill, outline) per status; the outline is the tree's colour of the status.
STATUS_COLOURS: dict[TicketStatus, tuple[str, str]] = {
    status: (FILLS[status], STATUS_COLORS.get(status) or _WAITING_OUTLINES[status])
    for status in TicketStatus
}
#: The outline of a ticket with a pending approval (spawn or tool call), and its badge.
PENDING_COLOUR = "#ff6f00"
SELECTED_COLOUR = "#263238"
TEXT_COLOUR = "#212121"
EDGE_COLOUR = "#78909c"
ARROW = 7.0
#: Below this zoom a node's text is too small to read and is not drawn.
TEXT_ZOOM = 0.35


@dataclass(frozen=True, slots=True)
class NodeState:
    """What a node shows; a node repaints only when this changes."""

    title: str
    status: TicketStatus
    model: str = ""
    attempts: int = 0
    #: Pending approvals of the ticket (spawn and tool calls).
    pending: int = 0
    tooltip: str = ""


class NodeItem(QGraphicsItem):
    """A ticket: its id and status on top, its title below, coloured by status."""

    def __init__(self, ticket_id: str, state: NodeState) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self.state = state
        self.selected = False
        self._bold = QFont()
        self._bold.setBold(True)
        self._title = ""
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self._apply(state)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, NODE_W, NODE_H)

    @property
    def fill(self) -> QColor:
        return QColor(STATUS_COLOURS[self.state.status][0])

    def set_state(self, state: NodeState) -> bool:
        """Show ``state``; True when it changed (and the node was scheduled to repaint)."""
        if state == self.state:
            return False
        self._apply(state)
        self.update()
        return True

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self.update()

    def _apply(self, state: NodeState) -> None:
        self.state = state
        self.setToolTip(state.tooltip)
        width = NODE_W - 16
        self._title = QFontMetricsF(QFont()).elidedText(
            state.title, Qt.TextElideMode.ElideRight, width
        )

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        fill, line = STATUS_COLOURS[self.state.status]
        pen = QPen(QColor(line), 1.5)
        if self.state.pending:
            pen = QPen(QColor(PENDING_COLOUR), 3.0, Qt.PenStyle.DashLine)
        if self.selected:
            pen = QPen(QColor(SELECTED_COLOUR), 3.0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pen)
        painter.setBrush(QColor(fill))
        painter.drawRoundedRect(self.boundingRect().adjusted(2, 2, -2, -2), 6, 6)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < TEXT_ZOOM:
            return  # too small to read: the colour is the message
        painter.setPen(QColor(TEXT_COLOUR))
        painter.setFont(self._bold)
        top = QRectF(8, 5, NODE_W - 16, NODE_H / 2 - 5)
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self.ticket_id)
        painter.setFont(QFont())
        painter.drawText(top, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         self._badge())
        painter.drawText(QRectF(8, NODE_H / 2, NODE_W - 16, NODE_H / 2 - 5),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self._title)

    def _badge(self) -> str:
        """The top right: the status, the attempt when a retry runs, pending approvals."""
        text = self.state.status.label
        if self.state.attempts > 1:
            text += f" #{self.state.attempts}"
        if self.state.pending:
            count = self.state.pending
            text = ("! " if count == 1 else f"!{count} ") + text
        return text


@dataclass(frozen=True, slots=True)
class Arrow:
    """A dependency's arrow: the curve from the dependency to its dependent, and its head."""

    path: QPainterPath
    head: QPolygonF

    @staticmethod
    def through(points: list[QPointF]) -> Arrow:
        end, before = points[-1], points[-2]
        # The curve arrives horizontally: from the left, or (a cycle's back arrow) the right.
        angle = 0.0 if end.x() >= before.x() else math.pi
        head = QPolygonF([end] + [
            QPointF(end.x() - ARROW * math.cos(angle + turn),
                    end.y() - ARROW * math.sin(angle + turn))
            for turn in (-0.45, 0.45)
        ])
        return Arrow(_curve(points), head)


class ArrowLayer(QGraphicsItem):
    """Every arrow of the graph in one item, under the nodes, cached as one picture: a
    node's repaint blits it instead of stroking hundreds of curves again."""

    def __init__(self) -> None:
        super().__init__()
        self._arrows: list[Arrow] = []
        self._rect = QRectF()
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(0)

    def set_arrows(self, arrows: list[Arrow]) -> None:
        self.prepareGeometryChange()
        self._arrows = arrows
        rect = QRectF()
        for arrow in arrows:
            rect = rect.united(arrow.path.boundingRect()).united(arrow.head.boundingRect())
        self._rect = rect.adjusted(-2, -2, 2, 2)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(EDGE_COLOUR)
        painter.setPen(QPen(colour, 1.4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for arrow in self._arrows:
            painter.drawPath(arrow.path)
        painter.setBrush(colour)
        for arrow in self._arrows:
            painter.drawPolygon(arrow.head)


def _curve(points: list[QPointF]) -> QPainterPath:
    """Smooth S-curves between consecutive points, leaving and arriving horizontally."""
    path = QPainterPath(points[0])
    for a, b in itertools.pairwise(points):
        if a.y() == b.y():
            path.lineTo(b)
            continue
        half = (b.x() - a.x()) / 2
        path.cubicTo(QPointF(a.x() + half, a.y()), QPointF(b.x() - half, b.y()), b)
    return path


def legend_html() -> str:
    """The legend: a coloured square per status and the pending-approval outline."""
    parts = [f'<span style="color:{line}">■</span>&nbsp;{status.label}'
             for status, (_fill, line) in STATUS_COLOURS.items()]
    parts.append(f'<span style="color:{PENDING_COLOUR}"><b>□</b></span>&nbsp;approval pending')
    return " &nbsp; ".join(parts)
