"""Wiring the ruler to a LogStore: the instant-query function and construction from a Config."""

from __future__ import annotations

from functools import lru_cache

from lokipy.config import Config
from lokipy.logql import parse
from lokipy.logql.ast import LogExpr
from lokipy.logql.results import Scalar, Vector
from lokipy.logstore import LogStore
from lokipy.ruler.alerting import QuerySample, RuleEvalError
from lokipy.ruler.manager import QueryFn, Ruler


def logstore_query(logstore: LogStore) -> QueryFn:
    """A LogQL instant query at ``t`` (forward), as a list of (labels, value)."""

    def query(expr: str, t: int, tenant: str) -> list[QuerySample]:
        if _is_log_query(expr):  # Loki's engine returns streams here; its ruler refuses them
            raise RuleEvalError("rule result is not a vector or scalar")
        value = logstore.query(expr, t, tenant=tenant, direction="forward").value
        if isinstance(value, Vector):
            return [(dict(s.labels.pairs), s.value) for s in value.samples]
        if isinstance(value, Scalar):
            return [({}, value.value)]
        raise RuleEvalError("rule result is not a vector or scalar")

    return query


@lru_cache(maxsize=1024)
def _is_log_query(expr: str) -> bool:
    try:
        return isinstance(parse(expr), LogExpr)
    except Exception:  # the engine reports the parse error itself
        return False


def ruler_for(logstore: LogStore, config: Config) -> Ruler | None:
    """The (not yet started) ruler of ``config``, or None without a ``ruler:`` block."""
    if config.ruler is None:
        return None
    return Ruler(config.ruler, logstore_query(logstore), config.data_dir)
