"""The ``lokipy`` command.

``lokipy serve`` runs the server; ``query``, ``instant-query``, ``labels`` and ``series`` are
logcli-style clients for any Loki-compatible server (``docs/cli.md``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from lokipy.cli import commands, serve, sink_wait
from lokipy.cli.client import ClientError
from lokipy.model.errors import LokipyError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lokipy", description="A Loki-compatible log store.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(sub)
    commands.add_parsers(sub)
    sink_wait.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = getattr(args, "log_level", "warning")
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except ClientError as err:
        print(f"lokipy {args.command}: {err}", file=sys.stderr)
        return 1
    except LokipyError as err:
        print(f"lokipy: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `lokipy query ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
