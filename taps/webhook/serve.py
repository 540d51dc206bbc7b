"""``tap-webhook serve --config FILE``: the webhook receiver (Starlette on Uvicorn; the ``webhooks`` extra).

It reads the same config as ``tap-webhook`` (taps/webhook/settings.py), listens on
``server.host:server.port`` and serves ``POST /hooks/<source>`` for each configured source,
``/healthz`` and ``/metrics`` (see app.py). SIGTERM or SIGINT stops it gracefully: it stops
accepting connections, lets requests in flight finish (up to ``server.shutdown_grace_seconds``),
commits what is queued, then exits 143 (SIGTERM) or 130 (SIGINT). Exit 2: invalid config;
1: the spool cannot be opened or the address cannot be bound.

Logs go to stderr with every secret of the config redacted; no line carries a request body or a
header value. Uvicorn's access log is off (a line per delivery costs throughput and says nothing the
metrics do not).
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence
from typing import Any

import click

from protocol import ConfigError, RedactingFilter, SluiceError, load_config, secret_values, setup_logging
from taps.webhook.settings import SETTINGS, WebhookSettings
from taps.webhook.tap import TapWebhook

__all__ = ["main", "run"]

log = logging.getLogger("sluice.webhook.serve")

NAME = "tap-webhook"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SluiceError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def run(config: dict[str, Any], *, http: str = "auto", loop: str = "auto") -> None:
    """Serve until stopped by a signal (``http``/``loop``: Uvicorn's implementation choices)."""
    import uvicorn

    from taps.webhook.app import Receiver, build_app
    from taps.webhook.providers import verifier_for
    from taps.webhook.spool import open_writer

    settings = WebhookSettings.from_config(config)
    verifiers = {name: verifier_for(name, src.options) for name, src in settings.sources.items()}
    writer = open_writer(settings.spool, settings.server.commit_window_ms)
    writer.open()
    app = build_app(Receiver(settings, verifiers, writer))
    server = uvicorn.Server(uvicorn.Config(
        app, http=http, loop=loop, lifespan="on", log_config=None, access_log=False, server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.server.shutdown_grace_seconds + 0.999)))
    sock = _bind(settings.server.host, settings.server.port)
    host, port = sock.getsockname()[:2]
    where = settings.spool.path if settings.spool.backend == "sqlite" else f"PostgreSQL table {settings.spool.table}"
    log.info("listening on http://%s:%d for %s; spool: %s", host, port,
             ", ".join(f"/hooks/{name}" for name in settings.sources), where)
    server.run(sockets=[sock])
    if not server.started:
        raise SluiceError("the receiver did not start (see the lines above)")


def _redact(handler: logging.Handler, config: dict[str, Any]) -> None:
    handler.addFilter(RedactingFilter(secret_values(config, SETTINGS)))


@click.command(name="serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "configs", multiple=True, required=True, metavar="FILE|ENV",
              help="Config JSON file (the one tap-webhook reads), or ENV. Repeatable; merged left to right.")
def _command(configs: tuple[str, ...]) -> None:
    """Receive webhooks: verify each delivery, store it durably in the spool, then acknowledge it."""
    handler = setup_logging()
    try:
        # the tap's schema (SETTINGS with the kit's strict_settings and stream-map settings): the config
        # file is shared, so a key the tap accepts must not be an unknown setting here
        config = load_config(configs, connector_name=NAME, settings_schema=TapWebhook.settings_schema)
        _redact(handler, config)
        run(config)
    except ConfigError as exc:
        log.error("%s", exc)
        sys.exit(exc.exit_code)
    except SluiceError as exc:
        log.error("%s", exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


def main(argv: Sequence[str] | None = None) -> None:
    """``tap-webhook serve ARGS`` (tap-webhook's main hands over ``argv[2:]``)."""
    _command.main(args=list(sys.argv[1:] if argv is None else argv), prog_name=f"{NAME} serve")


if __name__ == "__main__":
    main()
