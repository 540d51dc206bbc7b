"""``sluice ui``: serve the run dashboard of the project's state store (needs ``sluice[ui]``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from protocol import ConfigError, ExitCode
from runner.cli_context import Ctx

if TYPE_CHECKING:
    from runner.ui.data import DashboardData

__all__ = ["ui"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Beyond the loopback, SLUICE_UI_TOKEN must be set.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port to listen on.")
@click.pass_obj
def ui(obj: Ctx, host: str, port: int) -> int:
    """A read-only web dashboard of the state store: pipelines, run history with charts, each run's
    streams, error and log tail, live progress, state and locks, and the same as JSON under /api/
    (docs/ui.md). Visitors give SLUICE_UI_TOKEN (required off loopback) as ?token= or a bearer header."""
    from runner.ui.app import MISSING, create_app, require_token  # the extra: one clear line when it is missing

    try:
        import uvicorn
    except ImportError as exc:
        raise ConfigError(MISSING) from exc

    from runner.ui.data import open_dashboard_store

    token = require_token(host, os.environ.get("SLUICE_UI_TOKEN") or None)
    project = obj.project

    def open_data() -> DashboardData:
        return open_dashboard_store(project)

    shown = f"[{host}]" if ":" in host else host
    click.echo(f"sluice ui: http://{shown}:{port}/ ({project.where}); Ctrl-C stops it", err=True)
    uvicorn.run(create_app(open_data, token), host=host, port=port, log_level="warning", access_log=False,
                server_header=False, proxy_headers=False)
    return ExitCode.OK
