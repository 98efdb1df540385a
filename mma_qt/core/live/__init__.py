"""QtCore objects of the GUI thread: the session, the stream hub, the event bus."""
