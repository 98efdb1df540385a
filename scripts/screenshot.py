"""Render the README screenshot from the real window (offscreen), mid-run on the demo.

    .venv/bin/python scripts/screenshot.py docs/screenshot.png
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.providers.demo import DemoProviderFactory, Scenario, TicketScript
from mma_qt.ui.log_panel import QtLogHandler
from mma_qt.wiring import assemble


async def shoot(out: Path) -> None:
    scenario = Scenario(tickets={"T-003": TicketScript(raise_message="TimeoutError: test "
                                                       "runner did not answer", raise_times=1)})
    with tempfile.TemporaryDirectory() as tmp:
        handler = QtLogHandler(logging.WARNING)
        logging.getLogger().addHandler(handler)
        parts = assemble(
            DemoProviderFactory(delay=0.01, scenario=scenario), PricingTable.load(),
            RunOptions(), auto=True, hook_address=str(Path(tmp) / "hook.sock"),
            log_handler=handler,
        )
        window = parts.window
        window.resize(1280, 760)
        window.show()
        window.start(sample_epic(), tmp)
        while not any(t.status == "completed" for t in parts.session.tickets.values()):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.2)
        window.select("T-002")
        await asyncio.sleep(0.3)
        window.model.flush()
        window.refresh_status()
        out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out))
        window.close()
        parts.hook.close()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")
    app = QApplication(sys.argv[:1])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    with tempfile.TemporaryDirectory() as settings:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings)
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(shoot(out))
        finally:
            loop.close()
    print(f"screenshot written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
