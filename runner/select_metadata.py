"""``sluice select TAP --list`` and ``--replication STREAM METHOD[:KEY]``: the effective catalog of a tap.

The effective catalog is what ``sluice run`` gives the tap: its ``catalog:`` file (or else its
``--discover`` output) with the ``metadata:`` block of ``sluice.yml`` laid over it. Setting a
replication writes ``metadata: {STREAM: {replication-method, replication-key}}`` into
``sluice.yml`` (comments kept, ``runner.project_edit``) after checking it against the catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol import REPLICATION_METHODS, ConfigError, read_json_file
from runner.catalog_metadata import apply_metadata, metadata_rules
from runner.catalog_select import describe_selection

if TYPE_CHECKING:
    from runner.cli_context import Ctx
    from runner.isolation import Redactor
    from runner.project import ResolvedConnector

__all__ = ["parse_replication", "select_metadata"]

Configure = Callable[[], "tuple[ResolvedConnector, Redactor]"]


def parse_replication(stream: str, spec: str) -> dict[str, Any]:
    """``INCREMENTAL:updated_at``, ``FULL_TABLE`` or ``LOG_BASED`` as metadata keys (None: remove the key)."""
    method, _, key = spec.partition(":")
    method = method.strip().upper()
    if method not in REPLICATION_METHODS:
        raise ConfigError(f"--replication {stream} {spec}: {method!r} is not a replication method "
                          f"({', '.join(REPLICATION_METHODS)})")
    if method == "INCREMENTAL" and not key.strip():
        raise ConfigError(f"--replication {stream} {spec}: INCREMENTAL needs a key (INCREMENTAL:COLUMN)")
    if method != "INCREMENTAL" and key:
        raise ConfigError(f"--replication {stream} {spec}: only INCREMENTAL takes a replication key")
    return {"replication-method": method, "replication-key": key.strip() or None}


def _base_catalog(obj: Ctx, connector: str, catalog_path: str | None, configure: Configure) -> dict[str, Any]:
    project = obj.project
    path = Path(catalog_path) if catalog_path else None
    conn = project.connector(connector)
    if path is None and conn.catalog:
        path = project.dir / conn.catalog
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"catalog file not found: {path} (write it with: sluice discover {connector} -o {path})")
        data = read_json_file(path, "catalog")
        if not isinstance(data, dict) or not isinstance(data.get("streams"), list):
            raise ConfigError(f"catalog file {path} must hold a JSON object with a 'streams' list")
        return data
    from runner.connectors import discover
    from runner.isolation import RunDir

    resolved, redact = configure()
    with RunDir(project.dir / ".sluice" / "tmp") as run_dir:
        return discover(resolved, run_dir, redact)


def select_metadata(obj: Ctx, connector: str, replications: list[tuple[str, str]], catalog_path: str | None,
                    configure: Configure, warn: Callable[[str], None]) -> list[str]:
    """Apply (and with ``replications``, first set) the metadata of CONNECTOR; the lines describing the result."""
    from runner.project_edit import set_stream_metadata

    project = obj.project
    conn = project.connector(connector)
    changes = [(stream, parse_replication(stream, spec)) for stream, spec in replications]
    if changes and (not conn.declared or project.path is None):
        raise ConfigError(f"--replication writes the metadata: of a connector declared in sluice.yml; "
                          f"'{connector}' is not declared in {project.where}")
    metadata: dict[str, Any] = {k: dict(v) for k, v in conn.metadata.items()}
    for stream, values in changes:
        merged = {**metadata.get(stream, {}), **values}
        metadata[stream] = {k: v for k, v in merged.items() if v is not None}
    base = _base_catalog(obj, connector, catalog_path, configure)
    where = f"connector '{conn.name}'"
    catalog, warnings = apply_metadata(base, metadata_rules(metadata), where)
    for stream, _ in changes:
        if f"{where}: metadata '{stream}' matches no stream" in warnings:
            raise ConfigError(f"--replication {stream}: matches no stream of {conn.name}'s catalog")
    for warning in warnings:
        warn(warning)
    for stream, values in changes:
        assert project.path is not None
        set_stream_metadata(project.path, conn.name, stream, values)
    if changes:
        warn(f"metadata of '{conn.name}' written to {project.path}")
    return describe_selection(catalog)
