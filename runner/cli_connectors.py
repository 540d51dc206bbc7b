"""``sluice spec | check | discover | select``: commands that work on any Singer connector."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from protocol import ExitCode, dumps_pretty, plural
from runner.cli_context import INSTALL_HELP, Ctx
from runner.cli_environment import environment_option
from runner.cli_install import ensure_installed

if TYPE_CHECKING:
    from runner.isolation import Redactor, RunDir
    from runner.project import ResolvedConnector

__all__ = ["check", "discover", "select", "spec"]


def _write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(dumps_pretty(data, other=str))
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cache_dir(obj: Ctx) -> Path | None:
    """Where --about answers are cached: the project's .sluice/cache; outside a project, nowhere."""
    project = obj.project
    return project.dir / ".sluice" / "cache" if project.path else None


@contextmanager
def _run_dir(obj: Ctx) -> Iterator[RunDir]:
    """A private directory for the connector's config file: under the project's .sluice/tmp, or,
    outside a project, in a temporary directory removed afterwards (nothing left in the cwd)."""
    from runner.isolation import RunDir

    project = obj.project
    if project.path:
        with RunDir(project.dir / ".sluice" / "tmp") as run_dir:
            yield run_dir
        return
    with tempfile.TemporaryDirectory(prefix="sluice-") as root, RunDir(Path(root)) as run_dir:
        yield run_dir


def _read_configs(paths: tuple[str, ...]) -> dict[str, Any]:
    """``--config FILE`` files merged left to right (as every connector merges them)."""
    from protocol import ConfigError, read_json_file

    merged: dict[str, Any] = {}
    for path in paths:
        data = read_json_file(path, "config")
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
        merged.update(data)
    return merged


def _configured(obj: Ctx, connector: str, configs: tuple[str, ...] = (), *, tap_only: bool = False,
                install_: bool = False) -> tuple[ResolvedConnector, Redactor]:
    """CONNECTOR (declared in sluice.yml, or any program) with its config (``configs`` when given,
    else sluice.yml's) coerced to its settings schema, and a redactor of its secrets: what check
    and discover run with. ``tap_only``: a connector whose --about says it is no tap is refused."""
    from runner.connectors import about, coerce_config, connector_secrets
    from runner.isolation import Redactor

    project = obj.project
    declared = project.connector(connector)
    ensure_installed(obj, [declared.name], install_)
    conn = project.resolve(declared, with_config=not configs)
    info = about(conn, _cache_dir(obj))
    if tap_only:
        _refuse_a_target(conn, info)
    if configs:
        conn.config = _read_configs(configs)
    redact = Redactor(connector_secrets(conn, info))
    conn.config = coerce_config(conn.config, info)
    return conn, redact


def _refuse_a_target(conn: ResolvedConnector, info: dict[str, Any] | None) -> None:
    """A target has no catalog: say so, instead of running its (absent) --discover. Its --about
    capabilities tell (a tap lists discover, catalog or properties); without --about, its name."""
    from protocol import ConfigError

    capabilities = (info or {}).get("capabilities")
    if isinstance(capabilities, list):
        is_tap = bool({"discover", "catalog", "properties"} & set(capabilities))
    else:  # no --about (many singer-io connectors)
        is_tap = not any(name.startswith("target-") for name in (conn.name, Path(conn.argv[0]).name))
    if not is_tap:
        raise ConfigError(f"{conn.name} is a target: targets have no catalog (discover works on taps)")


_CONFIG_OPTION = click.option(
    "--config", "configs", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
    help="Config JSON file (repeatable, merged left to right) instead of the connector's config in sluice.yml; "
         "works outside any project.")
_INSTALL_OPTION = click.option("--install", "install_", is_flag=True, help=INSTALL_HELP)


@click.command()
@click.argument("connector")
@click.option("--full", is_flag=True, help="Print the whole --about output, not only the settings schema.")
@_INSTALL_OPTION
@environment_option
@click.pass_obj
def spec(obj: Ctx, connector: str, full: bool, install_: bool) -> int:
    """Print CONNECTOR's settings JSON Schema (from its --about --format json)."""
    from runner.connectors import ConnectorError, about_answer, connector_secrets, settings_schema
    from runner.isolation import Redactor

    project = obj.project
    declared = project.connector(connector)
    ensure_installed(obj, [declared.name], install_)
    conn = project.resolve(declared, with_config=False)
    answer = about_answer(conn, None)
    info = answer.info
    schema = settings_schema(info)
    if info is None or schema is None:
        why = f": {answer.problem}" if answer.problem else ""
        redact = Redactor(connector_secrets(conn, None))
        raise ConnectorError(redact(f"{conn.name} has no --about --format json with a settings schema{why}"))
    click.echo(dumps_pretty(info if full else schema, other=str))
    return ExitCode.OK


@click.command()
@click.argument("connector")
@_CONFIG_OPTION
@click.option("--timeout", type=float, default=300.0, show_default=True, metavar="SECONDS",
              help="Seconds to wait for the connector's --test; past them it is stopped and the check fails.")
@_INSTALL_OPTION
@environment_option
@click.pass_obj
def check(obj: Ctx, connector: str, configs: tuple[str, ...], timeout: float, install_: bool) -> int:
    """Run CONNECTOR's --test: exit 0 when it passes, 1 with the connector's message when not.

    CONNECTOR is a connector of sluice.yml, or any program (on PATH or a path) with --config FILE.
    """
    from runner.connectors import check as run_check

    conn, redact = _configured(obj, connector, configs, install_=install_)
    with _run_dir(obj) as run_dir:
        result = run_check(conn, run_dir, redact, timeout)
    if result.ok:
        click.echo(f"{conn.name}: ok: {result.message}")
        return ExitCode.OK
    click.echo(f"sluice: {conn.name}: check failed: {result.message}", err=True)
    return ExitCode.FAILED


@click.command()
@click.argument("connector")
@_CONFIG_OPTION
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the catalog here (default: stdout).")
@click.option("--timeout", type=float, default=600.0, show_default=True, metavar="SECONDS",
              help="Seconds to wait for the catalog; past them the tap is stopped and nothing is written.")
@_INSTALL_OPTION
@environment_option
@click.pass_obj
def discover(obj: Ctx, connector: str, configs: tuple[str, ...], output: str | None, timeout: float,
             install_: bool) -> int:
    """Run the tap CONNECTOR's --discover, validate the catalog, and print or write it.

    CONNECTOR is a tap of sluice.yml, or any tap program (on PATH or a path) with --config FILE.
    """
    from runner.connectors import discover as run_discover

    conn, redact = _configured(obj, connector, configs, tap_only=True, install_=install_)
    with _run_dir(obj) as run_dir:
        catalog = run_discover(conn, run_dir, redact, timeout)
    if output is None:
        click.echo(dumps_pretty(catalog, other=str))
    else:
        path = Path(output)
        _write_json_atomic(path, catalog)
        click.echo(f"sluice: {conn.name}: {plural(len(catalog['streams']), 'stream')} written to {path}", err=True)
    return ExitCode.OK


@click.command()
@click.argument("connector")
@click.argument("patterns", nargs=-1)
@click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False),
              help="The catalog file (default: the connector's `catalog:` in sluice.yml).")
@click.option("--list", "list_only", is_flag=True,
              help="Only show the selection and replication the tap runs with (metadata: of sluice.yml applied).")
@click.option("--replication", nargs=2, multiple=True, metavar="STREAM METHOD[:KEY]",
              help="Set STREAM's replication in sluice.yml's metadata: (INCREMENTAL:updated_at, FULL_TABLE, "
                   "LOG_BASED); repeatable.")
@environment_option
@click.pass_obj
def select(obj: Ctx, connector: str, patterns: tuple[str, ...], catalog_path: str | None, list_only: bool,
           replication: tuple[tuple[str, str], ...]) -> int:
    """Select streams and fields in CONNECTOR's catalog, as Meltano's select does.

    PATTERN is STREAM.FIELD with globs (users.*, *.id, orders.address.city); STREAM alone
    means all its fields; a leading ! excludes. The patterns given are the whole selection.
    --list and --replication work on the catalog the tap runs with: its catalog file (or its
    discovery) with the metadata: block of sluice.yml laid over it.
    """
    from protocol import ConfigError, read_json_file
    from runner.catalog_select import apply_selection, describe_selection

    if replication or list_only:
        if patterns:
            raise click.UsageError("give PATTERNs, or --list / --replication, not both")
        from runner.select_metadata import select_metadata

        lines = select_metadata(obj, connector, list(replication), catalog_path, lambda: _configured(obj, connector),
                                lambda text: click.echo(f"sluice: {text}", err=True))
        for line in lines:
            click.echo(line)
        return ExitCode.OK
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
    if not patterns:
        raise click.UsageError("give at least one PATTERN, or --list, or --replication")
    catalog, warnings = apply_selection(catalog, list(patterns))
    for warning in warnings:
        click.echo(f"sluice: warning: {warning}", err=True)
    _write_json_atomic(path, catalog)
    click.echo(f"sluice: selection written to {path}", err=True)
    for line in describe_selection(catalog):
        click.echo(line)
    sys.stdout.flush()
    return ExitCode.OK
