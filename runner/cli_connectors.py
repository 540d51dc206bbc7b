"""``sluice spec | check | discover | select``: commands that work on any Singer connector."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from protocol.wording import plural
from runner.cli_context import EXIT_FAILED, EXIT_OK, Ctx

if TYPE_CHECKING:
    from runner.isolation import Redactor
    from runner.project import ResolvedConnector

__all__ = ["check", "discover", "select", "spec"]


def _write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=str)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cache_dir(obj: Ctx) -> Path:
    return obj.project.dir / ".sluice" / "cache"


def _configured(obj: Ctx, connector: str) -> tuple[ResolvedConnector, Redactor]:
    """The project's CONNECTOR with its config coerced to its settings schema, and a redactor
    of its secrets: what check and discover run with."""
    from runner.connectors import about, coerce_config, connector_secrets
    from runner.isolation import Redactor

    project = obj.project
    conn = project.resolve(project.connector(connector))
    info = about(conn, _cache_dir(obj))
    redact = Redactor(connector_secrets(conn, info))
    conn.config = coerce_config(conn.config, info)
    return conn, redact


@click.command()
@click.argument("connector")
@click.option("--full", is_flag=True, help="Print the whole --about output, not only the settings schema.")
@click.pass_obj
def spec(obj: Ctx, connector: str, full: bool) -> int:
    """Print CONNECTOR's settings JSON Schema (from its --about --format json)."""
    from runner.connectors import ConnectorError, about, settings_schema

    project = obj.project
    conn = project.resolve(project.connector(connector), with_config=False)
    info = about(conn, None)
    schema = settings_schema(info)
    if info is None or schema is None:
        raise ConnectorError(f"{conn.name} has no --about --format json with a settings schema")
    click.echo(json.dumps(info if full else schema, indent=2, default=str))
    return EXIT_OK


@click.command()
@click.argument("connector")
@click.option("--timeout", type=float, default=300.0, show_default=True)
@click.pass_obj
def check(obj: Ctx, connector: str, timeout: float) -> int:
    """Run CONNECTOR's --test: exit 0 when it passes, 1 with the connector's message when not."""
    from runner.connectors import check as run_check
    from runner.isolation import RunDir

    conn, redact = _configured(obj, connector)
    with RunDir(obj.project.dir / ".sluice" / "tmp") as run_dir:
        result = run_check(conn, run_dir, redact, timeout)
    if result.ok:
        click.echo(f"{conn.name}: ok: {result.message}")
        return EXIT_OK
    click.echo(f"sluice: {conn.name}: check failed: {result.message}", err=True)
    return EXIT_FAILED


@click.command()
@click.argument("connector")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the catalog here (default: stdout).")
@click.option("--timeout", type=float, default=600.0, show_default=True)
@click.pass_obj
def discover(obj: Ctx, connector: str, output: str | None, timeout: float) -> int:
    """Run CONNECTOR's --discover, validate the catalog, and print or write it."""
    from runner.connectors import discover as run_discover
    from runner.isolation import RunDir

    conn, redact = _configured(obj, connector)
    with RunDir(obj.project.dir / ".sluice" / "tmp") as run_dir:
        catalog = run_discover(conn, run_dir, redact, timeout)
    if output is None:
        click.echo(json.dumps(catalog, indent=2, default=str))
    else:
        path = Path(output)
        _write_json_atomic(path, catalog)
        click.echo(f"sluice: {conn.name}: {plural(len(catalog['streams']), 'stream')} written to {path}", err=True)
    return EXIT_OK


@click.command()
@click.argument("connector")
@click.argument("patterns", nargs=-1)
@click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False),
              help="The catalog file (default: the connector's `catalog:` in sluice.yml).")
@click.option("--list", "list_only", is_flag=True, help="Only show the current selection.")
@click.pass_obj
def select(obj: Ctx, connector: str, patterns: tuple[str, ...], catalog_path: str | None, list_only: bool) -> int:
    """Select streams and fields in CONNECTOR's catalog, as Meltano's select does.

    PATTERN is STREAM.FIELD with globs (users.*, *.id, orders.address.city); STREAM alone
    means all its fields; a leading ! excludes. The patterns given are the whole selection.
    """
    from protocol.config import read_json_file
    from protocol.errors import ConfigError
    from runner.catalog_select import apply_selection, describe_selection

    project = obj.project
    if catalog_path is None:
        conn = project.connector(connector)
        if not conn.catalog:
            raise ConfigError(f"connector '{connector}' declares no catalog: give --catalog FILE")
        path = project.dir / conn.catalog
    else:
        path = Path(catalog_path)
    if not path.is_file():
        raise ConfigError(f"catalog file not found: {path} (write it with: sluice discover {connector} -o {path})")
    catalog = read_json_file(path, "catalog")
    if not list_only:
        if not patterns:
            raise click.UsageError("give at least one PATTERN, or --list")
        catalog, warnings = apply_selection(catalog, list(patterns))
        for warning in warnings:
            click.echo(f"sluice: warning: {warning}", err=True)
        _write_json_atomic(path, catalog)
        click.echo(f"sluice: selection written to {path}", err=True)
    for line in describe_selection(catalog):
        click.echo(line)
    sys.stdout.flush()
    return EXIT_OK
