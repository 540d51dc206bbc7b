"""The streams a pipeline's run moves, read as ``sluice run`` reads them, for one asset per stream.

The tap's catalog is the one a run hands it: its ``catalog:`` file, or its ``--discover`` output,
with the ``metadata:`` rules of ``sluice.yml`` laid over it (``runner.tap_catalog``); the streams
are those selected in it. A tap with neither ``catalog:`` nor ``metadata:`` runs without a
catalog and emits what it emits by default: then every stream it discovers counts.
"""

from __future__ import annotations

import logging
from typing import Any

from protocol import Catalog
from runner.connectors import about, coerce_config, connector_secrets
from runner.isolation import Redactor, RunDir
from runner.project import Pipeline, Project
from runner.tap_catalog import base_catalog, effective_catalog

__all__ = ["selected_streams"]

_log = logging.getLogger("sluice.orchestrators")


def selected_streams(project: Project, pipe: Pipeline) -> list[str]:
    """The ``tap_stream_id`` of every stream the pipeline's tap will emit, in catalog order."""
    conn = project.connector(pipe.tap)
    tap = project.resolve(conn, check_catalog=True)
    info = about(tap, project.dir / ".sluice" / "cache" if project.path else None)
    redactor = Redactor(connector_secrets(tap, info))  # a failed --discover's words name no secret
    tap.config = coerce_config(tap.config, info)  # as a run hands the config over
    with RunDir(project.dir / ".sluice" / "tmp") as run_dir:
        catalog: dict[str, Any]
        if conn.metadata:
            catalog = effective_catalog(tap, conn.metadata, run_dir, redactor,
                                        lambda line: _log.warning("pipeline '%s': %s", pipe.name, line))
        else:
            catalog = base_catalog(tap, run_dir, redactor)
    entries = Catalog.from_dict(catalog).streams
    if tap.catalog is not None or conn.metadata:
        entries = [entry for entry in entries if entry.selected]
    return [entry.tap_stream_id for entry in entries]
