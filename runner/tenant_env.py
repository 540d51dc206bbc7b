"""What the runner of one tenant's pipeline is started with: none of the other tenants' variables.

``sluice run --all`` and ``sluice run TEMPLATE`` start one ``sluice run NAME`` process per
pipeline. For a tenant's pipeline that process gets the environment of the command minus every
variable another tenant's ``${tenant.env.NAME}`` references (and every variable another
tenant's ``env:`` names), unless its own tenant reads it too. Its connectors get even less:
only their declared ``env:`` besides PATH, HOME and LANG (runner/isolation.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runner.interpolation import interpolate
from runner.tenants import Tenant, fill

if TYPE_CHECKING:
    from runner.project import Pipeline, Project

__all__ = ["foreign_variables", "runner_environments", "tenant_variables", "variable_clashes"]

_ENV_REF = re.compile(r"(?<!\$)\$\{tenant\.env\.([A-Za-z_][A-Za-z0-9_]*)")


def _names_in(value: Any) -> set[str]:
    """The NAMEs of every ``${tenant.env.NAME}`` in the strings of ``value``."""
    if isinstance(value, str):
        return set(_ENV_REF.findall(value))
    if isinstance(value, dict):
        return {n for v in value.values() for n in _names_in(v)}
    if isinstance(value, list):
        return {n for v in value for n in _names_in(v)}
    return set()


def _config_names(project: Project, raw: Any, tenant: Tenant, environ: Mapping[str, str]) -> set[str]:
    """The names an inline config, or the config file it names (as this tenant reads it), references."""
    if not isinstance(raw, str):
        return _names_in(raw)
    scratch: list[str] = []  # a config that cannot be read is reported by the run that reads it
    path = project.dir / interpolate(fill(raw, tenant, "", scratch), project.scope(environ), "", scratch, set())
    try:
        return _names_in(path.read_text(errors="replace"))
    except OSError:
        return set()


def tenant_variables(project: Project, pipe: Pipeline, environ: Mapping[str, str] | None = None) -> set[str]:
    """The environment variables a tenant's pipeline reads through ``${tenant.env.NAME}``, and those
    its record's ``env:`` names."""
    tenant = pipe.tenant_record
    if tenant is None:
        return set()
    names = _referenced(project, pipe, tenant, os.environ if environ is None else environ)
    return {tenant.variable(name) for name in names} | set(tenant.env.values())


def variable_clashes(project: Project, environ: Mapping[str, str] | None = None) -> list[str]:
    """Tenants whose ``${tenant.env.NAME}`` read one variable by the default rule ``<ID>_NAME``: tenant
    ``acme``'s ``DB_PASSWORD`` and tenant ``acme_db``'s ``PASSWORD`` are both ``ACME_DB_PASSWORD``, so
    one tenant's pipeline would run with the other's secret. A variable a record's ``env:`` names is
    chosen, not a clash."""
    environ = os.environ if environ is None else environ
    readers: dict[str, dict[str, str]] = {}  # variable -> tenant id -> the NAME it reads it for
    for pipe in project.pipelines.values():
        tenant = pipe.tenant_record
        if tenant is None:
            continue
        for name in sorted(_referenced(project, pipe, tenant, environ) - set(tenant.env)):
            readers.setdefault(tenant.variable(name), {}).setdefault(tenant.id, name)
    problems = []
    for variable, who in sorted(readers.items()):
        if len(who) > 1:
            reads = ", ".join(f"'{tid}' for ${{tenant.env.{name}}}" for tid, name in sorted(who.items()))
            problems.append(f"for_each: tenants read the same variable {variable} ({reads}): name another "
                            f"variable in one record's env: (NAME: VARIABLE), or rename a tenant")
    return problems


def _referenced(project: Project, pipe: Pipeline, tenant: Tenant, environ: Mapping[str, str]) -> set[str]:
    """The NAMEs of the ``${tenant.env.NAME}`` a tenant's pipeline references (connectors, map steps)."""
    names: set[str] = set()
    for name in (pipe.tap, pipe.target, *(step.mapper for step in pipe.maps)):
        conn = project.connectors.get(name)
        if conn is not None:
            names |= _names_in([conn.args, conn.env, conn.catalog])
            names |= _config_names(project, conn.config, tenant, environ)
    for step in pipe.maps:
        names |= _config_names(project, step.config, tenant, environ)
    return names


def _by_tenant(project: Project, environ: Mapping[str, str]) -> dict[str, set[str]]:
    by_tenant: dict[str, set[str]] = {}
    for pipe in project.pipelines.values():
        if pipe.tenant is not None:
            by_tenant.setdefault(pipe.tenant, set()).update(tenant_variables(project, pipe, environ))
    return by_tenant


def _foreign(by_tenant: dict[str, set[str]], tenant: str) -> set[str]:
    own = by_tenant.get(tenant, set())
    return {var for other, found in by_tenant.items() if other != tenant for var in found} - own


def foreign_variables(project: Project, name: str, environ: Mapping[str, str] | None = None) -> set[str]:
    """The variables the tenant pipeline ``name`` must not read: the other tenants' (empty for a pipeline
    of no tenant). Its run hides them from its project's scope, in the environment and in ``.env``
    alike, however it was started (``sluice run p@acme`` too): ``.env`` gave them to any tenant."""
    tenant = project.pipelines[name].tenant
    return set() if tenant is None else _foreign(_by_tenant(project, os.environ if environ is None else environ),
                                                 tenant)


def runner_environments(project: Project, names: list[str],
                        environ: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """The environment of the runner process of each tenant pipeline among ``names`` (others: absent)."""
    environ = os.environ if environ is None else environ
    by_tenant = _by_tenant(project, environ)
    out: dict[str, dict[str, str]] = {}
    for name in names:
        pipe = project.pipelines[name]
        if pipe.tenant is None:
            continue
        foreign = _foreign(by_tenant, pipe.tenant)
        out[name] = {key: value for key, value in environ.items() if key not in foreign}
    return out
