"""``sluice validate``: unknown settings of every connector of a project.

Each connector's config is taken as ``sluice run`` would pass it: the inline mapping or the
config file, with ``${ENV}`` expanded where the variable is set (a missing variable is
reported by the resolve step; its key is still checked). The keys are checked against the
settings schema the connector publishes with ``--about``: at every depth for connectors
built on the Sluice kit, at the top level only for others (their nested objects may be
open without saying so). A connector without ``--about`` is not checked.

Unknown keys are warnings; they are problems (exit 2) under ``sluice validate --strict``
or for a connector whose own config sets ``strict_settings: true`` (it would refuse to
start with them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol import ConfigError, read_json_file, unknown_settings
from runner.connectors import about, coerce_config, settings_schema
from runner.interpolation import SecretUnavailable
from runner.project import interpolate
from runner.tenants import connector_variants, fill

if TYPE_CHECKING:
    from runner.project import Connector, Project, ResolvedConnector

__all__ = ["SettingsReport", "settings_report"]

KIT_SDK = "sluice-protocol"


@dataclass
class SettingsReport:
    warnings: list[str] = field(default_factory=list)  # one line per unknown key, not fatal
    problems: list[str] = field(default_factory=list)  # unknown keys that fail validation
    checked: int = 0  # connectors whose settings schema was available


def _config_as_passed(project: Project, conn: Connector) -> dict[str, Any] | None:
    """The connector's config with ``${ENV}`` expanded where set; None when it cannot be read."""
    scratch: list[str] = []
    raw = fill(conn.config, conn.tenant, conn.location, scratch)
    if isinstance(raw, dict):
        config = interpolate(raw, project.scope(), conn.location, scratch, set())
        return config if isinstance(config, dict) else None
    if isinstance(raw, str):
        path = project.dir / Path(interpolate(raw, project.scope(), conn.location, scratch, set()))
        try:
            data = read_json_file(path, "config")
        except ConfigError:
            return None
        expanded = interpolate(fill(data, conn.tenant, conn.location, scratch), project.scope(), conn.location, scratch,
                               set())
        return expanded if isinstance(expanded, dict) else None
    return {}


def _resolved(project: Project, conn: Connector) -> ResolvedConnector | None:
    """The program to ask for ``--about``, even when the config cannot be resolved."""
    for with_config in (True, False):
        try:
            return project.resolve(conn, with_config=with_config)
        except (ConfigError, SecretUnavailable):  # reported by the resolve step
            continue
    return None


def settings_report(project: Project, *, strict: bool, cache_dir: Path | None = None) -> SettingsReport:
    """Check the settings of every connector of ``project``; see the module docstring."""
    cache_dir = cache_dir or project.dir / ".sluice" / "cache"  # where the other commands cache --about
    report = SettingsReport()
    for declared in project.connectors.values():
        # run by tenants' pipelines (for_each:): checked as the first tenant fills it
        conn = next(iter(connector_variants(project, declared)), declared)
        resolved = _resolved(project, conn)
        config = _config_as_passed(project, conn)
        if resolved is None or config is None:
            continue  # the resolve step reports why
        info = about(resolved, cache_dir)
        schema = settings_schema(info)
        if info is None or schema is None:
            continue
        report.checked += 1
        config = coerce_config(config, info)
        ours = str(info.get("sdk_version", "")).startswith(KIT_SDK)
        fatal = strict or config.get("strict_settings") is True
        for unknown in unknown_settings(config, schema, nested=ours):
            line = f"{conn.location} ({conn.name}): {unknown.describe()}"
            (report.problems if fatal or unknown.forbidden else report.warnings).append(line)
    return report
