"""``sluice config show PIPELINE``: what a run of the pipeline would be given, in the chosen environment.

The connectors are resolved exactly as ``sluice run`` resolves them (config files read, ``${ENV}``
interpolated, a map step's settings laid over its mapper's, a tenant's ``${tenant.x}`` filled), and every
value the run would redact from its logs is masked: settings the connector's ``--about`` marks secret, the
project's ``secrets:``, credential-named ``env:`` variables and the ``${ENV}`` values inside them
(runner.connectors.connector_secrets), and the password of the state store's URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from protocol import ExitCode, dumps_pretty
from runner.cli_context import Ctx
from runner.cli_environment import environment_option

if TYPE_CHECKING:
    from runner.isolation import Redactor
    from runner.project import ResolvedConnector

__all__ = ["config"]


def _masked_url(url: str) -> str:
    """The state store's URL as shown: its password masked in every form (runner.stores.postgres.redact_url)."""
    from runner.isolation import REDACTED
    from runner.stores.urls import redact_url

    return redact_url(url).replace("***", REDACTED)


@click.group()
def config() -> None:
    """Show the project's effective configuration (with --environment, that environment's)."""


@config.command("show")
@click.argument("pipeline")
@environment_option
@click.pass_obj
def show(obj: Ctx, pipeline: str) -> int:
    """The effective settings of PIPELINE's connectors (tap, maps, target) as JSON, secrets masked.

    Also its state id and state store: with an environment, the state id is the one that
    environment keeps its bookmarks under."""
    from runner.isolation import Redactor
    from runner.map_steps import resolve_step

    project = obj.project
    pipe = project.pipeline(pipeline)
    url, url_secrets = project.state_store_url()
    out: dict[str, Any] = {
        "project": str(project.path.resolve()) if project.path else None,
        "environment": project.environment.name if project.environment else None,
        "pipeline": pipe.name,
        "state_id": pipe.state_id,
        "state_store": _masked_url(Redactor(url_secrets)(url)) if url else "sqlite",
        "schedule": pipe.schedule,
        "tap": _side(obj, project.resolve(project.connector_for(pipe, pipe.tap))),
        "maps": [_side(obj, resolve_step(project, step, tenant=pipe.tenant_record)) for step in pipe.maps],
        "target": _side(obj, project.resolve(project.connector_for(pipe, pipe.target))),
    }
    click.echo(dumps_pretty(out, other=str))
    return ExitCode.OK


def _side(obj: Ctx, conn: ResolvedConnector) -> dict[str, Any]:
    """One resolved connector as shown: program and arguments, settings, environment, catalog; masked."""
    from runner.cli_connectors import _cache_dir
    from runner.connectors import about, connector_secrets
    from runner.isolation import Redactor

    secrets = connector_secrets(conn, about(conn, _cache_dir(obj)))
    redact = Redactor(secrets)
    return {
        "name": conn.name,
        "argv": _masked(conn.argv, secrets, redact),
        "config": _masked(conn.config, secrets, redact),
        "env": _masked(conn.env, secrets, redact),
        "catalog": str(conn.catalog) if conn.catalog else None,
    }


def _masked(value: Any, secrets: set[str], redact: Redactor) -> Any:
    """``value`` with every secret masked: a whole value that is one (whatever its type), or a part of a string."""
    from runner.isolation import REDACTED

    if isinstance(value, dict):
        return {k: _masked(v, secrets, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secrets, redact) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if str(value) in secrets:
        return REDACTED
    return redact(value) if isinstance(value, str) else value
