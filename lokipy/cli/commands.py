"""logcli-style client commands: ``query`` (and ``--tail``), ``instant-query``, ``labels``, ``series``.

Every command talks HTTP to ``--addr`` (``LOKI_ADDR``, default http://127.0.0.1:3100), so it
works against lokipy and against Loki itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, TextIO

import orjson

from lokipy.cli.client import ClientConfig, ClientError, Entry, LokiClient
from lokipy.cli.output import OUTPUT_MODES, EntryPrinter, Progress, common_labels, timezone
from lokipy.model.errors import InvalidInput
from lokipy.model.labels import format_labels
from lokipy.model.timeparse import parse_prometheus_duration, parse_timestamp

DEFAULT_ADDR = "http://127.0.0.1:3100"


# --- arguments ------------------------------------------------------------------------------


def _client_flags(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument("--addr", default=env("LOKI_ADDR") or DEFAULT_ADDR,
                   help=f"server address; env LOKI_ADDR (default {DEFAULT_ADDR})")  # fmt: skip
    p.add_argument("--org-id", default=env("LOKI_ORG_ID"),
                   help="tenant, sent as X-Scope-OrgID; env LOKI_ORG_ID")  # fmt: skip
    p.add_argument("--username", default=env("LOKI_USERNAME"), help="basic auth user; env LOKI_USERNAME")
    p.add_argument("--password", default=env("LOKI_PASSWORD"), help="basic auth password; env LOKI_PASSWORD")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an answer (default 60)")
    p.add_argument("--quiet", "-q", action="store_true", help="no informational output on stderr")


def _time_flags(p: argparse.ArgumentParser, since: str = "1h") -> None:
    p.add_argument("--since", default=since, help=f"look back this far, e.g. 15m, 2h, 7d (default {since})")
    p.add_argument("--from", dest="from_", metavar="FROM",
                   help="start: RFC3339, unix seconds or nanoseconds (overrides --since)")  # fmt: skip
    p.add_argument("--to", help="end (exclusive), same forms as --from (default now)")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    q = sub.add_parser("query", help="run a LogQL query over a time range (logcli query)")
    q.add_argument("query", help='LogQL, e.g. \'{app="api"} |= "error"\'')
    _time_flags(q)
    q.add_argument("--limit", type=int, default=30, help="most entries to print (default 30)")
    q.add_argument("--batch", type=int, default=1000, help="entries per request when paging (default 1000)")
    q.add_argument("--forward", action="store_true", help="oldest first (default: newest first)")
    q.add_argument("--step", help="metric queries: resolution, e.g. 30s or 15")
    q.add_argument("--interval", help="log queries: at most one entry per interval")
    q.add_argument("--tail", "-t", action="store_true", help="follow new entries live (websocket)")
    q.add_argument("--delay-for", type=int, default=0, help="with --tail: wait this many seconds (0-5)")
    _output_flags(q)
    _client_flags(q)
    q.set_defaults(func=query_command)

    i = sub.add_parser("instant-query", help="evaluate a metric query at one instant")
    i.add_argument("query")
    i.add_argument("--now", help="evaluation time (default now), same forms as --from")
    i.add_argument("--limit", type=int, default=30)
    i.add_argument("--forward", action="store_true")
    _output_flags(i)
    _client_flags(i)
    i.set_defaults(func=instant_command)

    lb = sub.add_parser("labels", help="list label names, or the values of one label")
    lb.add_argument("label", nargs="?", help="a label name: list its values")
    lb.add_argument("--query", help="only streams matching this selector")
    _time_flags(lb)
    _client_flags(lb)
    lb.set_defaults(func=labels_command)

    s = sub.add_parser("series", help="list the streams matching a selector")
    s.add_argument("selector", nargs="?", default="{}", help="e.g. '{app=\"api\"}' (default: all)")
    s.add_argument("--analyze-labels", action="store_true", help="summarise label cardinality instead")
    _time_flags(s)
    _client_flags(s)
    s.set_defaults(func=series_command)

    st = sub.add_parser("stats", help="index statistics of a selector: bytes, chunks, streams, entries")
    st.add_argument("selector", help="e.g. '{app=\"api\"}'")
    _time_flags(st)
    _client_flags(st)
    st.set_defaults(func=stats_command)

    for name, ranged in (("volume", False), ("volume_range", True)):
        v = sub.add_parser(name, help="bytes per label combination" + (" over time" if ranged else ""))
        v.add_argument("selector", help="e.g. '{env=\"prod\"}'")
        _time_flags(v)
        v.add_argument("--limit", type=int, default=100, help="most series to list (default 100)")
        v.add_argument("--targets", help="comma-separated labels to group by (default: the selector's)")
        v.add_argument("--aggregate-by", choices=("series", "labels"), default="series")
        if ranged:
            v.add_argument("--step", default="1h", help="bucket width (default 1h)")
        _client_flags(v)
        v.set_defaults(func=volume_command)
        if not ranged:
            v.set_defaults(step=None)


def _output_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", choices=OUTPUT_MODES, default="default",
                   help="default: time, labels, line; raw: the line only; jsonl: one JSON object each")  # fmt: skip
    p.add_argument("--timezone", "-z", default="Local", help="Local or UTC (default Local)")
    p.add_argument("--no-labels", action="store_true", help="default output: leave labels off")
    p.add_argument("--exclude-label", action="append", default=[], help="default output: hide this label")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="a spinner on stderr for slow queries (auto: only on a terminal)")  # fmt: skip


# --- helpers --------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> LokiClient:
    return LokiClient(ClientConfig(args.addr, args.org_id, args.username, args.password, args.timeout))


def time_window(args: argparse.Namespace, now: int | None = None) -> tuple[int, int]:
    now = time.time_ns() if now is None else now
    try:
        end = parse_timestamp(args.to, "to") if args.to else now
        start = (
            parse_timestamp(args.from_, "from") if args.from_ else end - parse_prometheus_duration(args.since)
        )
    except InvalidInput as err:
        raise ClientError(str(err)) from None
    if end < start:
        raise ClientError("--to must not be before --from")
    return start, end


def _info(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)


def _progress(args: argparse.Namespace) -> Progress:
    enabled = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    return Progress(enabled)


def _printer(args: argparse.Namespace, out: TextIO, hide: set[str]) -> EntryPrinter:
    try:
        tz = timezone(args.timezone)
    except ValueError as err:
        raise ClientError(str(err)) from None
    return EntryPrinter(
        args.output, out, tz=tz, no_labels=args.no_labels, hide=hide | set(args.exclude_label)
    )


def _print_json(value: Any, out: TextIO) -> None:
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


# --- commands -------------------------------------------------------------------------------


def query_command(args: argparse.Namespace) -> int:
    if args.limit <= 0 or args.batch <= 0:
        raise ClientError("--limit and --batch must be positive")
    start, end = time_window(args)
    if args.tail:
        from lokipy.cli.tail import tail

        return tail(args, start)
    with _client(args) as client:
        _info(args, f"{args.addr}/loki/api/v1/query_range?query={args.query}")
        if not args.query.lstrip().startswith("{") or args.step:
            return _metric_range(args, client, start, end)
        with _progress(args) as progress:
            entries = list(
                client.log_entries(
                    args.query, start, end, args.limit, forward=args.forward, batch=args.batch,
                    interval=args.interval, on_batch=progress.update,
                )
            )  # fmt: skip
        _print_entries(args, entries, sys.stdout)
    return 0


def _metric_range(args: argparse.Namespace, client: LokiClient, start: int, end: int) -> int:
    with _progress(args):
        data = client.query_range(
            args.query, start, end, args.limit, forward=args.forward, step=args.step, interval=args.interval
        )
    if data["resultType"] == "streams":
        from lokipy.cli.client import streams_entries

        _print_entries(args, streams_entries(data["result"], args.forward)[: args.limit], sys.stdout)
    else:
        _print_json(data["result"], sys.stdout)
    return 0


def _print_entries(args: argparse.Namespace, entries: list[Entry], out: TextIO) -> None:
    common = common_labels(entries) if args.output == "default" else {}
    if common:
        _info(args, f"Common labels: {format_labels(sorted(common.items()))}")
    printer = _printer(args, out, set(common))
    for e in entries:
        printer.print(e)


def instant_command(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        raise ClientError("--limit must be positive")
    try:
        ts = parse_timestamp(args.now, "now") if args.now else time.time_ns()
    except InvalidInput as err:
        raise ClientError(str(err)) from None
    with _client(args) as client, _progress(args):
        data = client.query_instant(args.query, ts, args.limit, forward=args.forward)
    if data["resultType"] == "streams":
        from lokipy.cli.client import streams_entries

        _print_entries(args, streams_entries(data["result"], args.forward), sys.stdout)
    else:
        _print_json(data["result"], sys.stdout)
    return 0


def labels_command(args: argparse.Namespace) -> int:
    start, end = time_window(args)
    with _client(args) as client:
        if args.label:
            found = client.label_values(args.label, start, end, args.query)
        else:
            found = client.labels(start, end, args.query)
    for item in found:
        print(item)
    return 0


def series_command(args: argparse.Namespace) -> int:
    start, end = time_window(args)
    with _client(args) as client:
        found = client.series([args.selector], start, end)
    if args.analyze_labels:
        values: dict[str, set[str]] = {}
        for s in found:
            for k, v in s.items():
                values.setdefault(k, set()).add(v)
        print(f"Total Streams:  {len(found)}")
        print(f"Unique Labels:  {len(values)}\n")
        width = max((len(k) for k in values), default=5)
        print(f"{'Label Name'.ljust(width)}  Unique Values  Found In Streams")
        for name, vals in sorted(values.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            in_streams = sum(1 for s in found if name in s)
            print(f"{name.ljust(width)}  {len(vals):<13}  {in_streams}")
        return 0
    for s in found:
        print(format_labels(sorted(s.items())))
    return 0


def human_bytes(n: int) -> str:
    """Decimal units as logcli prints them (``1.2 MB``)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def stats_command(args: argparse.Namespace) -> int:
    start, end = time_window(args)
    with _client(args) as client:
        stats = client.index_stats(args.selector, start, end)
    print("{")
    print(f"  bytes: {human_bytes(int(stats.get('bytes', 0)))}")
    for key in ("chunks", "streams", "entries"):
        print(f"  {key}: {int(stats.get(key, 0))}")
    print("}")
    return 0


def volume_command(args: argparse.Namespace) -> int:
    if args.limit <= 0:
        raise ClientError("--limit must be positive")
    start, end = time_window(args)
    with _client(args) as client:
        data = client.volume(
            args.selector, start, end, args.limit, targets=args.targets,
            aggregate_by=args.aggregate_by, step=args.step,
        )  # fmt: skip
    _print_json(data["result"], sys.stdout)
    return 0
