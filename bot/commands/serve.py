"""`mlresponder serve`: migrate the store, start the background parts and the HTTP API."""

from __future__ import annotations

import argparse
import logging
import socket

from bot.commands import settings_from


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the HTTP service (alert intake, API, Slack events)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.api import create_app
    from bot.catalog import CatalogError
    from bot.cli import CommandError
    from bot.logging_setup import configure_logging
    from bot.monitors.loader import MonitorConfigError
    from bot.wiring import create_runtime
    from runbooks.loader import RunbookError

    try:
        settings = settings_from(args)
    except (ValueError, OSError) as exc:
        raise CommandError(f"configuration: {exc}") from None
    configure_logging(args.log_level, settings.secrets())
    try:
        runtime = create_runtime(settings, migrate=True)
    except (RunbookError, MonitorConfigError, CatalogError) as exc:
        # An invalid catalog, runbook or monitor must stop the service before it takes any alert.
        raise CommandError(f"refusing to start: {exc}") from None
    app = create_app(runtime, bind_host=args.host)
    # Bind before anything starts or says "serving": a taken port is one clear error, not a log that lies.
    try:
        sock = socket.create_server((args.host, args.port))
    except OSError as exc:
        runtime.close()
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    runtime.start()
    logger = logging.getLogger("mlresponder")
    if not settings.api_token and not _is_loopback_bind(args.host):
        logger.warning("MLRESPONDER_API_TOKEN is not set: listening on %s, but only clients on this host "
                       "are answered; set a token to serve other hosts", args.host)
    logger.info("serving on http://%s:%d", args.host, args.port)
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        runtime.close()
    return 0


def _is_loopback_bind(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
