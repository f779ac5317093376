"""The ruler's query function over a real LogStore: vectors, scalars, and refused log queries."""

from __future__ import annotations

import time

import pytest

from lokipy.logstore import LogStore
from lokipy.ruler.alerting import RuleEvalError
from lokipy.ruler.service import logstore_query


def test_query_results_become_samples() -> None:
    with LogStore() as store:
        now = time.time_ns()
        store.push(
            {"job": "osquery_results"}, [(now - 10**9, '{"columns":{"type":"7","username":"alice"}}')] * 1
        )
        q = logstore_query(store)
        expr = 'sum by (columns_username) (count_over_time({job="osquery_results"} | json | columns_type="7" [5m]))'
        assert q(expr, now, "fake") == [({"columns_username": "alice"}, 1.0)]
        assert q(expr, now - 10 * 60 * 10**9, "fake") == []  # nothing in the window: no sample, not 0
        assert q(expr, now, "other-tenant") == []
        assert q("1 + 1", now, "fake") == [({}, 2.0)]  # scalar: one sample without labels
        with pytest.raises(RuleEvalError, match="rule result is not a vector or scalar"):
            q('{job="osquery_results"} |= "alice"', now, "fake")
