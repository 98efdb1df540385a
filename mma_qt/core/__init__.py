"""Domain, DAG, conductor, workers, providers and the event bus.

May use PySide6.QtCore; never QtWidgets/QtGui and never mma_qt.ui
(checked by tests/test_architecture.py). Modules without Qt imports are pure logic.
"""
