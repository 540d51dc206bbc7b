"""``sluice validate``: check sluice.yml and resolve every connector, listing every problem."""

from __future__ import annotations

import click

from protocol import ExitCode
from runner.cli_context import Ctx
from runner.cli_environment import environment_option

__all__ = ["validate"]


@click.command()
@environment_option
@click.option("--strict", is_flag=True, help="Unknown settings are problems (exit 2), not warnings.")
@click.pass_obj
def validate(obj: Ctx, strict: bool) -> int:
    """Check sluice.yml and resolve every connector (programs, config files, ${ENV}), listing every problem.

    A connector that tenants' pipelines (for_each:) run is resolved once per tenant.

    Also reports config keys a connector's settings schema does not declare (typos),
    connectors whose environment differs from their pip_url or from sluice.lock, and pipeline
    maps whose mapper is unknown or, for mapper-sluice and other mappers on Sluice's kit,
    whose settings it refuses (a bad expression, an unknown setting), taps and targets swapped, and
    catalog files that are no JSON or no Singer catalog (checked as sluice discover checks one)."""
    from protocol import ConfigError, plural
    from runner.cli_install import lock_problems
    from runner.connectors import catalog_problems
    from runner.interpolation import SecretUnavailable, problems_error
    from runner.map_steps import map_problems
    from runner.pipeline_roles import pipeline_role_problems
    from runner.settings_report import settings_report
    from runner.tenants import connector_variants

    project = obj.project
    problems: list[str] = []
    for conn in project.connectors.values():
        for variant in connector_variants(project, conn):  # once per tenant that runs it
            try:
                resolved = project.resolve(variant, check_catalog=True)
            except (ConfigError, SecretUnavailable) as exc:  # a provider down now: listed too (exit 1 alone)
                problems.extend(exc.problems or [exc.summary])
            else:
                problems.extend(catalog_problems(resolved.catalog, f"{variant.location}.catalog"))
    problems.extend(lock_problems(obj))
    report = settings_report(project, strict=strict)
    map_warnings, map_issues = map_problems(project, project.dir / ".sluice" / "cache", strict=strict)
    report.warnings.extend(map_warnings)
    for line in report.warnings:
        click.echo(f"sluice: warning: {line}", err=True)
    problems.extend([*report.problems, *map_issues, *pipeline_role_problems(project, project.dir / ".sluice/cache")])
    if problems:  # a problem that is not a tenant's (a program not found) is listed once, not per tenant
        raise problems_error(f"{project.where}: problems found", list(dict.fromkeys(problems)))
    unknown = f"; {plural(len(report.warnings), 'unknown setting')}, see the warnings" if report.warnings else ""
    counts = f"{plural(len(project.connectors), 'connector')}, {plural(len(project.pipelines), 'pipeline')}"
    if project.templates:
        stamped = sum(len(names) for names in project.templates.values())
        counts += f", {stamped:,} of them for the tenants of {plural(len(project.templates), 'for_each: pipeline')}"
    click.echo(f"{project.where}: ok ({counts}{unknown})")
    return ExitCode.OK
