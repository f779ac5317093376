"""LogQL: the query language of Grafana Loki (grammar, typed syntax tree, Loki's errors).

``parse(text)`` returns the validated syntax tree (:mod:`lokipy.logql.ast`);
``format_query(text)`` returns the query printed canonically, as Loki's ``format_query`` does.
"""

from __future__ import annotations

from lokipy.logql.parser import format_query, parse

__all__ = ["format_query", "parse"]
