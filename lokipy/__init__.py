"""lokipy: a Loki-compatible log store in Python."""

__version__ = "0.1.0"
