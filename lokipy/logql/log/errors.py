"""Errors raised while building log-pipeline stages."""

from __future__ import annotations

from lokipy.model.errors import InvalidInput


class ParserError(InvalidInput):
    """A parser stage that cannot be built (bad regex, pattern, expression)."""
