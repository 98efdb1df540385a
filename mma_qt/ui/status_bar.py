"""The window's status bar: the run's state, its totals, and which providers it uses."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from ..core.live.session import MmaSession
from . import formatting

#: Totals tick at 4 Hz: live numbers need no more, and text painting is costly.
REFRESH_MS = 250
DEMO_TEXT = "DEMO provider (offline, no API key)"
DEMO_STYLE = "QLabel { background: #fff3cd; color: #664d03; padding: 0 6px; }"


class RunStatusBar(QStatusBar):
    """Left: status · active tier · tickets done · error. Right: tokens, cost and time,
    then the provider (the offline demo stands out). Refreshed by a timer until
    :meth:`stop`, and at once by :meth:`refresh`."""

    def __init__(self, session: MmaSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.status_label = QLabel()
        self.totals_label = QLabel()
        self.provider_label = QLabel()
        self.addWidget(self.status_label, 1)
        self.addPermanentWidget(self.totals_label)
        self.addPermanentWidget(self.provider_label)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def show_provider(self, label: str, *, demo: bool) -> None:
        self.provider_label.setText(DEMO_TEXT if demo else label)
        self.provider_label.setStyleSheet(DEMO_STYLE if demo else "")

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def refresh(self) -> None:
        session = self._session
        tickets = list(session.tickets.values())
        done = sum(1 for t in tickets if t.status.is_final)
        tier = "" if session.active_tier is None else f" · {session.active_tier.label}"
        error = f" · {session.error}" if session.error else ""
        self.status_label.setText(
            f"{session.status}{tier} · tickets {done}/{len(tickets)}{error}"
        )
        totals = session.totals()
        elapsed = session.elapsed()
        self.totals_label.setText(
            f"in {formatting.tokens(totals.usage.input)} · "
            f"out {formatting.tokens(totals.usage.output)} · "
            f"cache {formatting.tokens(totals.usage.cache)} · "
            f"{formatting.cost(totals.cost_usd, totals.cost_known)} · "
            f"{formatting.elapsed(elapsed, precise=session.finished_at is not None)}"
        )
