"""Main window, Qt item models, views and dialogs. Reads the core; never the reverse."""
