"""mma_qt: a Qt control room for a four-tier team of LLM agents."""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
