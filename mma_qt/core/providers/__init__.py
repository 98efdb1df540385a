"""LLM providers behind one small streaming interface (see :mod:`.base`)."""
