"""Guard against PySide6 6.12.0 on Python 3.11: every Signal.emit() dropped a ref to True.

After ~500 emits the interpreter aborts (``Fatal Python error: bool_dealloc``). On 3.12+
bools are immortal, so the check still runs and passes.
"""

from __future__ import annotations

import gc
import sys

import PySide6
from PySide6.QtCore import QObject, Signal, Slot

EMITS = 5_000


class Emitter(QObject):
    flag = Signal(bool)


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.trues = 0
        self.falses = 0

    @Slot(bool)
    def on_flag(self, value: bool) -> None:
        if value is True:
            self.trues += 1
        elif value is False:
            self.falses += 1


def test_emitting_bool_signals_keeps_the_reference_count_of_true(qapp) -> None:
    emitter, receiver = Emitter(), Receiver()
    emitter.flag.connect(receiver.on_flag)
    gc.collect()
    before = sys.getrefcount(True)
    for i in range(EMITS):
        emitter.flag.emit(i % 2 == 0)
    gc.collect()
    after = sys.getrefcount(True)
    assert (receiver.trues, receiver.falses) == (EMITS // 2, EMITS // 2)
    # The broken build loses one reference per emit; a healthy one loses none.
    assert after >= before, f"sys.getrefcount(True) dropped from {before} to {after}"


def test_pyside6_is_not_the_broken_release_on_python_before_3_12() -> None:
    version = tuple(int(p) for p in PySide6.__version__.split(".")[:3])
    if sys.version_info < (3, 12):
        assert version != (6, 12, 0), (
            f"PySide6 {PySide6.__version__} aborts Python 3.11 after ~500 Signal.emit() "
            "calls; pyproject pins <6.12 for Python < 3.12"
        )
    assert version >= (6, 8)
