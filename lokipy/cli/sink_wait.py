"""``lokipy sink-wait``: wait until a sink (``lokipy serve --sink``) has N lines, report the rate.

Exit code 0 when the lines arrived in time, 1 on timeout; the report goes to stdout (one line,
or JSON with ``--json``) either way.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sink-wait", help="wait until a sink received N lines and report the rate")
    p.add_argument("--addr", default="127.0.0.1:3100", help="sink address, host:port or URL")
    p.add_argument("--lines", type=int, required=True, help="lines to wait for")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    p.add_argument("--tenant", default=None, help="count only this tenant (default: all)")
    p.add_argument("--interval", type=float, default=0.1, help="poll interval in seconds")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run, log_level="warning")


def run(args: argparse.Namespace) -> int:
    from lokipy.sink.client import wait_for_lines

    report = wait_for_lines(
        args.addr, args.lines, args.timeout, tenant=args.tenant, poll_interval=args.interval
    )
    print(json.dumps(report.as_dict()) if args.json else report.summary(), flush=True)
    return 0 if report.reached else 1
