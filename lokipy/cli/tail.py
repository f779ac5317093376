"""``lokipy query --tail``: follow ``/loki/api/v1/tail`` over a websocket until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import urlencode

import orjson

from lokipy.cli.client import ClientConfig, ClientError, Entry
from lokipy.cli.output import EntryPrinter, timezone


def tail_url(addr: str, query: str, limit: int, start: int, delay_for: int) -> str:
    base = addr.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    params: dict[str, Any] = {"query": query, "limit": limit, "start": str(start)}
    if delay_for:
        params["delay_for"] = delay_for
    return f"{base}/loki/api/v1/tail?{urlencode(params)}"


def message_entries(message: dict[str, Any]) -> list[Entry]:
    out = []
    for s in message.get("streams") or ():
        labels = tuple(sorted(s["stream"].items()))
        for v in s["values"]:
            out.append(Entry(labels, int(v[0]), v[1], v[2] if len(v) > 2 and v[2] else None))
    out.sort(key=lambda e: e.ts)
    return out


def tail(args: argparse.Namespace, start: int) -> int:
    from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
    from websockets.sync.client import connect

    if not 0 <= args.delay_for <= 5:
        raise ClientError("--delay-for must be between 0 and 5 seconds")
    config = ClientConfig(args.addr, args.org_id, args.username, args.password, args.timeout)
    url = tail_url(args.addr, args.query, args.limit, start, args.delay_for)
    try:
        tz = timezone(args.timezone)
    except ValueError as err:
        raise ClientError(str(err)) from None
    printer = EntryPrinter(args.output, sys.stdout, tz=tz, no_labels=args.no_labels, hide=args.exclude_label)
    headers = {k: v for k, v in config.headers().items() if k != "Cache-Control"}
    try:
        with connect(url, additional_headers=headers, open_timeout=args.timeout, max_size=None) as ws:
            if not args.quiet:
                print(f"tailing {args.query} at {args.addr} (Ctrl-C to stop)", file=sys.stderr)
            for raw in ws:
                message = orjson.loads(raw)
                for entry in message_entries(message):
                    printer.print(entry)
                sys.stdout.flush()
                dropped = message.get("dropped_entries") or ()
                if dropped:
                    print(f"[{len(dropped)} entries dropped: the client was too slow]", file=sys.stderr)
    except KeyboardInterrupt:
        return 0
    except InvalidStatus as err:
        body = err.response.body.decode("utf-8", "replace").strip() if err.response.body else ""
        raise ClientError(f"error response from server ({err.response.status_code}): {body}") from None
    except ConnectionClosed as err:
        if err.rcvd is not None and err.rcvd.code not in (1000, 1001):
            raise ClientError(f"the server ended the tail: {err.rcvd.reason or err.rcvd.code}") from None
        return 0
    except (OSError, InvalidURI, TimeoutError) as err:
        raise ClientError(f"cannot connect to {args.addr}: {err}. Set --addr or LOKI_ADDR.") from None
    return 0
