"""LogQL parse benchmark: time to parse and validate typical Grafana queries.

Run: ``python -m benchmarks.bench_parse [--quick] [--json FILE]``.

The queries are the shapes Grafana sends (Explore log browsing, dashboard panels, alert
rules, logs volume). Each is parsed many times; the figure is the median of five rounds, in
microseconds of this process's CPU time per parse (``time.process_time``: other processes
on a shared machine inflate wall-clock figures several times; ``*_wall_us`` shows that too).
The lexer alone is measured in the same run as a floor (the LALR driver and tree building
cost the rest), and the one-off cost of building the parser.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

from lokipy.logql import format_query, parse
from lokipy.logql import parser as _parser
from lokipy.logql._lexer import tokenize

QUERIES: dict[str, str] = {
    "selector": '{app="frontend"}',
    "explore_filter": '{app="frontend", env="prod"} |= "error" != "timeout"',
    "explore_json": '{app="api"} | json | level="error" | line_format "{{.msg}}"',
    "logs_volume": 'sum by (level) (count_over_time({app="api"} | drop __error__[1m]))',
    "panel_rate": 'sum by (status) (rate({job="nginx"} |~ "HTTP/1.1\\" 5.." [5m]))',
    "panel_quantile": (
        "quantile_over_time(0.99, "
        '{app="api"} | logfmt | unwrap duration(latency) | __error__="" [5m]) by (route)'
    ),
    "alert_ratio": (
        'sum(rate({app="api"} |= "error" [5m])) by (pod) / sum(rate({app="api"}[5m])) by (pod) > 0.05'
    ),
    "topk_bytes": 'topk(10, sum by (host) (bytes_over_time({job=~"app|nginx"}[1h])))',
    "long_pipeline": (
        '{app="checkout", env=~"prod|staging"} |= "payment" | json | status >= 500 '
        "and duration > 250ms or size > 10KB | label_format svc=app | drop pod, node "
        '| line_format "{{.svc}} {{.status}} {{.msg}}"'
    ),
}


def _per_call_us(fn: Any, arg: str, number: int, clock: Any = time.process_time) -> float:
    rounds = []
    for _ in range(5):
        start = clock()
        for _ in range(number):
            fn(arg)
        rounds.append((clock() - start) / number * 1e6)
    return statistics.median(rounds)


def run(quick: bool) -> dict[str, Any]:
    """Figures in CPU microseconds per call (``*_us``) plus the parser build time in ms."""
    number = 200 if quick else 2000
    figures: dict[str, Any] = {"load_avg_1m": os.getloadavg()[0]}  # other processes skew it
    _parser._tables = None  # measure building (or loading the Lark cache of) the tables
    start = time.perf_counter()
    _parser._get_tables()
    figures["parser_build_ms"] = (time.perf_counter() - start) * 1e3
    parse_times = []
    for name, query in QUERIES.items():
        parse(query)
        lex = _per_call_us(tokenize, query, number)
        full = _per_call_us(parse, query, number)
        figures[f"{name}_lex_us"] = lex
        figures[f"{name}_parse_us"] = full
        parse_times.append(full)
    figures["median_parse_us"] = statistics.median(parse_times)
    figures["median_query_parse_wall_us"] = _per_call_us(
        parse, QUERIES["logs_volume"], number, time.perf_counter
    )
    figures["min_parse_us"] = min(parse_times)
    figures["max_parse_us"] = max(parse_times)
    figures["format_query_long_pipeline_us"] = _per_call_us(format_query, QUERIES["long_pipeline"], number)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 parses per round, not 2000")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run(args.quick)
    for key, value in figures.items():
        print(f"{key:<34} {value:,.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
