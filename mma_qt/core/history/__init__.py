"""The history of a workspace's runs: ``<workspace>/.mma/history.sqlite3``.

``schema`` (tables, version, migrations), ``writer`` (the one thread that writes),
``recorder`` (the only module that meets the session; QtCore), ``store`` (reading runs
back in the ``get_mma_status`` shape, search) and ``report`` (Markdown, HTML, JSON).
Everything but the recorder is pure stdlib.
"""
