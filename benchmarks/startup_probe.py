"""Child process of the startup benchmark: start the app's objects, report when shown.

Run as ``python benchmarks/startup_probe.py <t0> <hook_socket>`` where ``t0`` is the
parent's ``time.time()`` just before it spawned this process. Builds the window the way
``mma-qt`` does (QApplication, qasync loop, :func:`mma_qt.wiring.assemble`, ``show``),
then prints one JSON line: seconds from ``t0`` to each milestone, including the window's
first ``Show``, ``Expose`` (of its QWindow) and ``Paint`` events.
"""

from __future__ import annotations

import os
import sys
import time

T0 = float(sys.argv[1])
T_MAIN = time.time()

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_API", "pyside6")

import asyncio  # noqa: E402
import json  # noqa: E402

import qasync  # noqa: E402
from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from mma_qt.core.model.options import RunOptions  # noqa: E402
from mma_qt.core.model.pricing import PricingTable  # noqa: E402
from mma_qt.core.providers.demo import DemoProviderFactory  # noqa: E402
from mma_qt.wiring import assemble  # noqa: E402

T_IMPORTS = time.time()

WATCHED = {
    QEvent.Type.Show: "show_s",
    QEvent.Type.Expose: "expose_s",
    QEvent.Type.Paint: "paint_s",
}


class FirstEvents(QObject):
    """Records the first time each watched event reaches a watched object."""

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[str, float] = {}
        self.done: asyncio.Future[None] | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        key = WATCHED.get(event.type())
        if key is not None and key not in self.times:
            self.times[key] = time.time() - T0
            if (
                "paint_s" in self.times
                and self.done is not None
                and not self.done.done()
            ):
                self.done.set_result(None)
        return False


def main() -> int:
    app = QApplication(sys.argv[:1])
    app.setOrganizationName("mma-qt")
    app.setApplicationName("mma-qt")
    app.setQuitOnLastWindowClosed(False)
    t_qapp = time.time()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    watch = FirstEvents()
    marks: dict[str, float] = {}

    async def run() -> None:
        watch.done = asyncio.get_running_loop().create_future()
        parts = assemble(
            DemoProviderFactory(delay=0.0),
            PricingTable.load(),
            RunOptions(),
            auto=False,
            hook_address=sys.argv[2],
        )
        marks["assembled_s"] = time.time() - T0
        window = parts.window
        window.installEventFilter(watch)
        window.create()  # the QWindow exists before show, so its Expose is seen
        handle = window.windowHandle()
        if handle is not None:
            handle.installEventFilter(watch)
        window.show()
        try:
            await asyncio.wait_for(watch.done, 10.0)
        except TimeoutError:
            marks["timed_out"] = 1.0
        window.removeEventFilter(watch)
        window.close()
        parts.hook.close()
        window.deleteLater()

    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    result = {
        "interpreter_s": T_MAIN - T0,
        "imports_s": T_IMPORTS - T0,
        "qapplication_s": t_qapp - T0,
        **marks,
        **watch.times,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
