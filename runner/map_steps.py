"""A pipeline's mappers (``maps:``): each step resolved to a program with its settings, and checked.

A mapper is any program that reads Singer messages on stdin and writes them, mapped, on
stdout: ``mapper-sluice``, a singer-sdk mapper, a script. The runner starts it between the tap
and the target exactly as it starts a connector (its own environment, a private config file,
the project directory as working directory) and never imports it. A step names a connector of
``connectors:`` (``sluice run TAP TARGET --map PROGRAM``: any program on PATH, as TAP and
TARGET); the step's ``config:`` is laid over that connector's own config, key by key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from protocol import ConfigError
from runner.interpolation import problems_error

if TYPE_CHECKING:
    from runner.project import MapStep, Place, Project, ResolvedConnector
    from runner.tenants import Tenant

__all__ = ["map_problems", "resolve_step"]

KIT_SDK = "sluice-protocol"  # the sdk_version prefix of programs built on our kit (--about)


def resolve_step(project: Project, step: MapStep, environ: Mapping[str, str] | None = None, *,
                 tenant: Tenant | None = None) -> ResolvedConnector:
    """The mapper of ``step`` ready to start: its connector resolved, the step's settings laid over
    (for a tenant's pipeline, with that tenant's ``${tenant.x}`` filled in both)."""
    environ = os.environ if environ is None else environ
    conn = project.connector(step.mapper)
    if tenant is not None:
        conn = replace(conn, tenant=tenant)
    resolved = project.resolve(conn, environ)
    if step.config is None:
        return resolved
    problems: list[str] = []
    secrets: set[str] = set()
    origins: dict[Place, set[str]] = {}
    where = f"{step.location}@{tenant.id}" if tenant else step.location
    config = project.read_config(step.config, f"{where}.config", environ, problems, secrets, origins, tenant)
    if problems:
        raise problems_error(f"{project.where}: mapper '{step.mapper}' of {step.location} cannot be used", problems)
    # a setting the step replaces no longer holds the connector's interpolated values
    kept = {place: values for place, values in resolved.env_values.items()
            if not (len(place) > 1 and place[0] == "config" and place[1] in config)}
    return replace(resolved, config={**resolved.config, **config}, env_values={**kept, **origins})


def map_problems(project: Project, cache_dir: Path, *, strict: bool = False) -> tuple[list[str], list[str]]:
    """``sluice validate``: (warnings, problems) of every pipeline's map steps.

    A step whose mapper cannot be resolved is a problem. For a mapper built on our kit (its
    ``--about`` says so) the step's settings are checked the way the mapper itself checks them:
    unknown keys (warnings; problems under ``strict`` or ``strict_settings: true``, as for
    connectors), and a start on empty input, which refuses an invalid map (bad expression,
    unknown property, ...) with exit code 2 listing every problem.
    Third-party mappers are started only by ``sluice run``.
    """
    from protocol import ExitCode, unknown_settings
    from runner.connectors import ConnectorError, about, coerce_config, connector_secrets, dry_start, settings_schema
    from runner.isolation import Redactor, RunDir

    warnings: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()  # a template's tenants often give one mapper the same settings: checked once
    for pipe in project.pipelines.values():
        for step in pipe.maps:
            try:
                mapper = resolve_step(project, step, tenant=pipe.tenant_record)
            except ConfigError as exc:
                problems.extend(exc.problems or [exc.summary])
                continue
            key = json.dumps([mapper.argv, mapper.config], sort_keys=True, default=str)
            if key in seen:
                continue
            seen.add(key)
            info = about(mapper, cache_dir)
            schema = settings_schema(info)
            if info is None or schema is None or not str(info.get("sdk_version", "")).startswith(KIT_SDK):
                continue
            mapper.config = coerce_config(mapper.config, info)
            where = f"{step.location}{'@' + pipe.tenant if pipe.tenant else ''} ({step.mapper})"
            fatal = strict or mapper.config.get("strict_settings") is True
            for unknown in unknown_settings(mapper.config, schema, nested=True):
                (problems if fatal or unknown.forbidden else warnings).append(f"{where}: {unknown.describe()}")
            try:
                with RunDir(cache_dir.parent / "tmp") as run_dir:
                    code, message = dry_start(mapper, run_dir, Redactor(connector_secrets(mapper, info)))
            except ConnectorError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if code == ExitCode.USAGE:
                problems.append(f"{where}: {message}")
            elif code != ExitCode.OK:
                problems.append(f"{where}: exits {code} on empty input: {message}")
    return warnings, problems
