"""``lokipy serve``: the HTTP server on 127.0.0.1:3100 with ./data (flags and YAML override)."""

from __future__ import annotations

import argparse
import gc
import logging
import signal


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="run the HTTP server (Loki's API)")
    serve.add_argument("--data-dir", default=None, help="data folder (default: ./data)")
    serve.add_argument("--host", default=None, help="listen address (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="listen port (default: 3100)")
    serve.add_argument("--config", "-config.file", dest="config", default=None, help="YAML config file")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--sink", action="store_true", help="count pushes, store nothing (shipper benchmarks)")
    serve.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    from lokipy.api.app import create_app
    from lokipy.config import load_config
    from lokipy.logstore import LogStore

    config = load_config(
        args.config,
        data_dir=args.data_dir,
        http_listen_address=args.host,
        http_listen_port=args.port,
    )
    if args.sink:  # nothing is stored: an in-memory store answers the read API, empty
        from dataclasses import replace

        config = replace(config, data_dir=None)
    elif config.data_dir is None:
        from dataclasses import replace
        from pathlib import Path

        config = replace(config, data_dir=Path("data"))
    logstore = LogStore(config=config)
    app = create_app(logstore, config)
    ruler = app.state.lokipy.extra.get("ruler")  # built by create_app when config has ruler:
    if ruler is not None:
        ruler.start()
    if args.sink:
        from lokipy.api.sink import install_sink
        from lokipy.sink import Sink

        install_sink(app, Sink(max_decompressed_bytes=config.server.max_decompressed_size))
    # A long-lived server allocates many short-lived objects per push; freezing start-up
    # objects and raising the first GC threshold cut cyclic-GC pauses on the push path.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.server.http_listen_address,
            port=config.server.http_listen_port,
            log_level=args.log_level,
            access_log=False,
            lifespan="off",
        )
    )
    logging.getLogger("lokipy").info(
        "lokipy listening on http://%s:%d, data in %s",
        config.server.http_listen_address,
        config.server.http_listen_port,
        "nowhere (sink mode)" if args.sink else config.data_dir,
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal; this
    # handler turns that into SystemExit so the store below is flushed and closed.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run()
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        app.state.lokipy.ready = False
        if ruler is not None:
            ruler.stop()
        logstore.close()  # flush heads to chunks: a clean shutdown leaves an empty WAL
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)
