"""Everything but widgets, in rooms with one rule each (enforced by import-linter):

- ``model``: pure domain logic, no Qt (tickets, tracks, DAG, plans, prompts, usage, pricing,
  cancel tokens, run options, status vocabulary).
- ``live``: QtCore objects that live on the GUI thread (session, stream hub, event bus).
- ``run``: the run machinery (controller, runner, conductor, worker, pool, approvals).
- ``settings``: configuration and API keys, no Qt.
- ``providers``: the model providers behind one streaming interface, no Qt.

Never ``QtWidgets``/``QtGui``, never ``mma_qt.ui``, ``mma_qt.hooks`` or the app.
"""
