"""`mlresponder serve`: migrate the store, start the background parts and the HTTP API.

`--workers N` runs N server processes behind one port (uvicorn's own process supervisor: the
workers share the listening socket, and a worker that dies is replaced). Each worker is a full
replica with its own runtime; they coordinate only through PostgreSQL (intake locks, the outbox's
row claims, the elected scheduler), exactly as replicas on several hosts behind a load balancer
do. SQLite admits one writer process, so it refuses `--workers` above 1.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import socket
from typing import TYPE_CHECKING

from bot.commands import settings_from

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.config import Settings
    from bot.runtime import Runtime

# How the parent tells its workers what `serve` was given (they are started by import string).
_WORKER_ENV = {"config": "MLRESPONDER_SERVE_CONFIG", "host": "MLRESPONDER_SERVE_HOST",
               "log_level": "MLRESPONDER_SERVE_LOG_LEVEL"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the HTTP service (alert intake, API, Slack events)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--log-level", default="info")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes behind the port (PostgreSQL only; they share the store)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.cli import CommandError
    from bot.db import is_postgres

    settings = _settings(args)
    if args.workers < 1:
        raise CommandError(f"--workers: must be at least 1, got {args.workers}")
    if args.workers > 1 and not is_postgres(settings.database_url):
        raise CommandError(
            f"--workers {args.workers}: SQLite is single-process (one writer); serve one process, or set "
            "MLRESPONDER_DATABASE_URL to a PostgreSQL database to run several"
        )
    if not settings.api_token and not _is_loopback_bind(args.host):
        logging.getLogger("mlresponder").warning(
            "MLRESPONDER_API_TOKEN is not set: listening on %s, but only clients on this host are answered; "
            "set a token to serve other hosts", args.host)
    if args.workers == 1:
        runtime, app = _build(settings, args.host, args.log_level, migrate=True)
        # Bind before anything starts or says "serving": a taken port is one clear error, not a log that lies.
        try:
            sock = _listen(args.host, args.port)
        except CommandError:
            runtime.close()
            raise
        runtime.start()
        freeze_startup_heap()
        logging.getLogger("mlresponder").info("serving on http://%s:%d", args.host, args.port)
        server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=False))
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
            runtime.close()
        return 0
    # Migrate and check the catalog, runbooks and monitors once, here, before any worker takes a request.
    runtime, _ = _build(settings, args.host, args.log_level, migrate=True)
    runtime.close()
    _listen(args.host, args.port).close()  # a taken port is one clear error here too
    os.environ[_WORKER_ENV["host"]] = args.host
    os.environ[_WORKER_ENV["log_level"]] = args.log_level
    if getattr(args, "config", None):
        os.environ[_WORKER_ENV["config"]] = str(args.config)
    logging.getLogger("mlresponder").info("serving on http://%s:%d with %d workers", args.host, args.port,
                                          args.workers)
    uvicorn.run("bot.commands.serve:worker_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, access_log=False)
    return 0


def worker_app() -> FastAPI:
    """One worker process of `serve --workers N` (uvicorn calls this in each worker)."""
    from bot.config import Settings

    settings = Settings.from_env(config_file=os.environ.get(_WORKER_ENV["config"]) or None)
    runtime, app = _build(settings, os.environ.get(_WORKER_ENV["host"], "127.0.0.1"),
                          os.environ.get(_WORKER_ENV["log_level"], "info"), migrate=False)
    runtime.start()
    atexit.register(runtime.close)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Move everything built at startup out of the garbage collector's sight (`gc.freeze`).

    The modules, the app, the catalog and runbooks are a quarter of a million objects that live as
    long as the process; every full collection walked them all again, holding the GIL for 100-350
    ms, and during an alert storm one came about every 20 s: each stalled every request of that
    moment (the p99 of a fixed-rate storm). Frozen, a full collection walks only what was made
    since; garbage is collected first so that none of it is kept for good.
    """
    import gc

    gc.collect()
    gc.freeze()


def _settings(args: argparse.Namespace) -> Settings:
    from bot.cli import CommandError

    try:
        return settings_from(args)
    except (ValueError, OSError) as exc:
        raise CommandError(f"configuration: {exc}") from None


def _build(settings: Settings, host: str, log_level: str, *, migrate: bool) -> tuple[Runtime, FastAPI]:
    from bot.api import create_app
    from bot.catalog import CatalogError
    from bot.cli import CommandError
    from bot.logging_setup import configure_logging
    from bot.monitors.loader import MonitorConfigError
    from bot.wiring import create_runtime
    from runbooks.loader import RunbookError

    configure_logging(log_level, settings.secrets())
    try:
        runtime = create_runtime(settings, migrate=migrate)
    except (RunbookError, MonitorConfigError, CatalogError) as exc:
        # An invalid catalog, runbook or monitor must stop the service before it takes any alert.
        raise CommandError(f"refusing to start: {exc}") from None
    return runtime, create_app(runtime, bind_host=host)


def _listen(host: str, port: int) -> socket.socket:
    from bot.cli import CommandError

    try:
        return socket.create_server((host, port))
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _is_loopback_bind(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
