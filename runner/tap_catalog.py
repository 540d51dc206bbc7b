"""The catalog a tap runs with when ``sluice.yml`` gives it a ``metadata:`` block.

The base is the connector's ``catalog:`` file when it declares one, else the tap's own
``--discover`` output (run again at every run, so new tables and columns are seen). The
metadata rules are laid over it (``runner.catalog_metadata``) and the result goes to a private
file of the run; neither the catalog file nor the project file is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol import ConfigError, dumps, read_json_file
from runner.catalog_metadata import apply_metadata, metadata_rules
from runner.connectors import discover
from runner.isolation import Redactor, RunDir
from runner.project import ResolvedConnector

__all__ = ["base_catalog", "effective_catalog", "write_effective_catalog"]


def base_catalog(tap: ResolvedConnector, run_dir: RunDir, redact: Redactor, timeout: float = 600.0) -> dict[str, Any]:
    """The ``catalog:`` file of the tap, or else what its ``--discover`` prints."""
    if tap.catalog is not None:
        data = read_json_file(tap.catalog, "catalog")
        if not isinstance(data, dict) or not isinstance(data.get("streams"), list):
            raise ConfigError(f"catalog file {tap.catalog} must hold a JSON object with a 'streams' list")
        return data
    return discover(tap, run_dir, redact, timeout)


def effective_catalog(tap: ResolvedConnector, metadata: dict[str, Any], run_dir: RunDir, redact: Redactor,
                      warn: Callable[[str], None]) -> dict[str, Any]:
    """The base catalog with the ``metadata:`` rules applied; warnings (globs matching nothing) go to ``warn``."""
    where = f"connector '{tap.name}'"
    try:
        rules = metadata_rules(metadata)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    catalog, warnings = apply_metadata(base_catalog(tap, run_dir, redact), rules, where)
    for warning in warnings:
        warn(warning)
    return catalog


def write_effective_catalog(tap: ResolvedConnector, metadata: dict[str, Any], run_dir: RunDir, redact: Redactor,
                            warn: Callable[[str], None]) -> Path:
    """Build the effective catalog into the run directory and point ``tap.catalog`` at it."""
    catalog = effective_catalog(tap, metadata, run_dir, redact, warn)
    tap.catalog = run_dir.write_private("catalog.json", dumps(catalog))
    return tap.catalog
