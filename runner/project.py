"""The project file ``sluice.yml``: loading, JSON Schema validation, ``${ENV}`` interpolation.

Structure is validated when the file is loaded, and every problem is reported at once with
its location (``sluice.yml:12: pipelines[0].tap: ...``). A connector's config is resolved
(files read, ``${ENV}`` interpolated) only when the connector is used, again reporting every
problem at once. Relative paths (``config:`` and ``catalog:`` files, an ``executable:`` path,
``sqlite:`` stores) resolve from the project file's directory, which is also where connectors run
(``ResolvedConnector.cwd``), so the paths inside their settings resolve from it too; a path typed
on the command line resolves from the current directory. Every value that came from the
environment is remembered with the place it went to (``env_values``); which of them are secret
is decided from the connector's settings schema (``runner.connectors.connector_secrets``), not
from where a value came from. A pipeline with ``for_each:`` is held as one pipeline per tenant
(``NAME@ID``, runner/tenants.py), whose connectors fill ``${tenant.x}`` in the pass of ``${ENV}``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol import ConfigError
from runner.hints import did_you_mean
from runner.interpolation import Place, Scope, blank_references, interpolate, problems_error, project_scope
from runner.programs import find_program, which
from runner.project_cache import digest, known_valid, remember_valid
from runner.project_validate import validate_project
from runner.tenants import Tenant, fill, read_tenants
from runner.yamlscalars import env_text

if TYPE_CHECKING:
    from runner.environments import Environment

__all__ = [
    "Connector",
    "Limits",
    "MapStep",
    "Pipeline",
    "Project",
    "ResolvedConnector",
    "find_project",
    "interpolate",
    "load_project",
]

PROJECT_FILES = ("sluice.yml", "sluice.yaml")


@dataclass(frozen=True)
class Limits:
    memory_mb: int | None = None
    cpu_seconds: int | None = None


@dataclass
class Connector:
    name: str
    executable: str
    location: str
    args: list[str] = field(default_factory=list)
    config: dict[str, Any] | str | None = None
    catalog: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    secret_settings: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    declared: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)  # stream glob -> Singer metadata (taps)
    pip_url: tuple[str, ...] = ()  # requirement specs installed into the connector's own venv (sluice install)
    python: str | None = None  # the interpreter of that venv (None: the one running sluice)
    tenant: Tenant | None = None  # whose ${tenant.x} it fills (Project.connector_for a tenant pipeline)


def _pip_specs(value: str | list[str] | None) -> tuple[str, ...]:
    """``pip_url`` as a tuple of requirement specs (a string is split on whitespace, as Meltano does)."""
    if value is None:
        return ()
    return tuple(value.split()) if isinstance(value, str) else tuple(value)


@dataclass
class ResolvedConnector:
    """A connector ready to start: absolute program, plain config, environment, secrets."""

    name: str
    argv: list[str]
    config: dict[str, Any]
    env: dict[str, str]
    catalog: Path | None
    limits: Limits
    env_values: dict[Place, set[str]]  # the ${ENV} values interpolated into each place
    secret_settings: list[str]
    cwd: Path  # the project directory: relative paths in config and args resolve from it


@dataclass(frozen=True)
class MapStep:
    """One mapper of a pipeline's ``maps:``: a connector, and settings laid over its own."""

    mapper: str
    config: dict[str, Any] | str | None = None
    location: str = ""  # "pipelines[0].maps[1]", or "--map" on the command line

    @classmethod
    def from_yaml(cls, raw: str | dict[str, Any], location: str) -> MapStep:
        if isinstance(raw, str):
            return cls(raw, None, location)
        return cls(raw["mapper"], raw.get("config"), location)


@dataclass
class Pipeline:
    name: str
    tap: str
    target: str
    state_id: str
    schedule: str | None = None
    timeout: float | None = None
    maps: list[MapStep] = field(default_factory=list)  # tap | maps[0] | maps[1] | ... | target
    tenant: str | None = None  # the tenant id of a pipeline stamped out by for_each: (named <template>@<id>)
    template: str | None = None  # the name of the pipeline with for_each: it was stamped out of
    tenant_record: Tenant | None = None  # that tenant's record: the values of ${tenant.x}


class Project:
    def __init__(self, path: Path | None, data: dict[str, Any], tenants: dict[int, list[Tenant]] | None = None,
                 environment: Environment | None = None) -> None:
        self.path = path
        self.environment = environment  # the environments: overlay ``data`` was merged with (runner/environments.py)
        self.disabled: dict[str, Pipeline] = {}  # pipelines with enabled: false (not run, listed or scheduled)
        prefix = environment.state_prefix if environment else ""
        self.dir = (path.parent if path else Path.cwd()).resolve()
        self.state_store: str | None = data.get("state_store")
        self.lock_timeout: float | None = data.get("lock_timeout_seconds")  # see runner.stores.lock_timeout
        self._scope = project_scope(self.dir, path is not None, data.get("secret_timeout_seconds"))
        self.connectors: dict[str, Connector] = {}
        self.pipelines: dict[str, Pipeline] = {}
        self.templates: dict[str, list[str]] = {}  # a pipeline with for_each: -> its tenant pipelines' names
        self.template_pipelines: dict[str, Pipeline] = {}  # those pipelines themselves (not run as they are)
        for i, raw in enumerate(data.get("connectors") or []):
            limits = raw.get("limits") or {}
            self.connectors[raw["name"]] = Connector(
                name=raw["name"],
                executable=raw["executable"],
                location=f"connectors[{i}]",
                args=list(raw.get("args") or []),
                config=raw.get("config"),
                catalog=raw.get("catalog"),
                env={k: env_text(v) for k, v in (raw.get("env") or {}).items()},
                secret_settings=list(raw.get("secrets") or []),
                limits=Limits(limits.get("memory_mb"), limits.get("cpu_seconds")),
                metadata=dict(raw.get("metadata") or {}),
                pip_url=_pip_specs(raw.get("pip_url")),
                python=raw.get("python"),
            )
        for i, raw in enumerate(data.get("pipelines") or []):
            pipe = Pipeline(
                name=raw["name"],
                tap=raw["tap"],
                target=raw["target"],
                state_id=prefix + (raw.get("state_id") or raw["name"]),
                schedule=raw.get("schedule"),
                timeout=raw.get("timeout"),
                maps=[MapStep.from_yaml(step, f"pipelines[{i}].maps[{j}]")
                      for j, step in enumerate(raw.get("maps") or [])],
            )
            if raw.get("enabled") is False:
                self.disabled[pipe.name] = pipe
                continue
            if "for_each" not in raw:
                self.pipelines[pipe.name] = pipe
                continue
            self.templates[pipe.name] = []
            self.template_pipelines[pipe.name] = pipe
            for tenant in (tenants or {}).get(i, []):
                name = f"{pipe.name}@{tenant.id}"
                self.templates[pipe.name].append(name)
                self.pipelines[name] = replace(pipe, name=name, state_id=f"{pipe.state_id}@{tenant.id}",
                                               tenant=tenant.id, template=pipe.name, tenant_record=tenant)

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "(no sluice.yml)"

    def scope(self, environ: Mapping[str, str] | None = None) -> Scope:
        """What ``${...}`` resolves against: ``environ`` (default ``os.environ``), then ``.env`` (interpolation.py)."""
        if isinstance(environ, Scope):
            return environ
        return self._scope if environ is None else self._scope.with_environ(environ)

    def state_store_url(self, environ: Mapping[str, str] | None = None) -> tuple[str | None, set[str]]:
        """The state store URL (``SLUICE_STATE_URL`` wins) and its secrets: its ${} values and its passwords
        (values in its user-info percent-encoded: runner/stores/urls.py)."""
        from runner.stores.urls import fill_url, url_passwords
        environ = os.environ if environ is None else environ
        secrets: set[str] = set()
        if environ.get("SLUICE_STATE_URL"):
            return environ["SLUICE_STATE_URL"], url_passwords(environ["SLUICE_STATE_URL"])
        if not self.state_store:
            return None, secrets
        problems: list[str] = []
        scope = self.scope(environ)
        url = fill_url(self.state_store, blank_references(self.state_store), "state_store", problems,
                       lambda text, quote: interpolate(text, scope, "state_store", problems, secrets, quote=quote))
        if problems:
            raise problems_error(f"{self.where}: invalid state_store", problems)
        return url, secrets | url_passwords(url)

    def missing(self) -> str:
        """Where no project file was found, and what to do about it."""
        return f"no sluice.yml found in {self.dir}; pass -p FILE"

    def pipeline(self, name: str) -> Pipeline:
        if name in self.pipelines:
            return self.pipelines[name]
        if name in self.templates:
            raise ConfigError(f"'{name}' runs once per tenant (for_each:): name one of its "
                              f"{len(self.templates[name])} pipelines, as {name}@ID")
        if name in self.disabled:
            env = f" in environment '{self.environment.name}'" if self.environment else ""
            raise ConfigError(f"pipeline '{name}' is disabled{env} (enabled: false in {self.where})")
        if self.path is None:
            raise ConfigError(f"no pipeline named '{name}': {self.missing()}")
        known = ", ".join(sorted(self.pipelines)) or "none declared"
        raise ConfigError(f"no pipeline named '{name}' in {self.path.resolve()} (pipelines: {known})"
                          + did_you_mean(name, self.pipelines))

    def connector_for(self, pipe: Pipeline, name: str) -> Connector:
        """The connector ``name`` as ``pipe`` runs it: for a tenant's pipeline, filling its ``${tenant.x}``."""
        conn = self.connector(name)
        if pipe.tenant_record is None:
            return conn
        return replace(conn, tenant=pipe.tenant_record)

    def connector(self, name: str) -> Connector:
        """A declared connector, or an ad hoc one: any program on PATH or by path, no config."""
        if name in self.connectors:
            return self.connectors[name]
        if "/" in name:  # a path on the command line: from the current directory, as a shell would
            path = os.path.abspath(os.path.expanduser(name))
            return Connector(name=Path(name).name, executable=path, location=name, declared=False)
        if which(name):
            return Connector(name=name, executable=name, location=name, declared=False)
        if self.path is None:
            raise ConfigError(f"no program named '{name}' on PATH, and no sluice.yml found in {self.dir} "
                              "to declare a connector (pass -p FILE)")
        known = ", ".join(sorted(self.connectors)) or "none declared"
        raise ConfigError(f"no connector named '{name}' in {self.path.resolve()}, and no such program on PATH "
                          f"(connectors: {known})" + did_you_mean(name, self.connectors))

    def resolve(
        self,
        connector: Connector,
        environ: Mapping[str, str] | None = None,
        *,
        check_catalog: bool = False,
        with_config: bool = True,
    ) -> ResolvedConnector:
        """Read config files, interpolate ``${ENV}``, find the program. Lists every problem."""
        environ = self.scope(environ)
        problems: list[str] = []
        secrets: set[str] = set()
        origins: dict[Place, set[str]] = {}
        where = connector.location
        if connector.pip_url:  # inside the connector's own environment (sluice install)
            from runner.install.envs import program_in_env

            argv0 = program_in_env(self, connector, connector.executable, f"{where}.executable", problems)
        else:
            argv0 = find_program(connector.executable, self.dir, f"{where}.executable", problems)
        tenant = connector.tenant
        where = f"{where}@{tenant.id}" if tenant else where  # what is filled differs per tenant
        config = self.read_config(connector.config if with_config else None, f"{where}.config", environ, problems,
                                  secrets, origins, tenant)
        env = interpolate(connector.env, environ, f"{where}.env", problems, secrets, origins, ("env",), tenant=tenant)
        if connector.pip_url:  # as if its environment were activated (its own programs first on PATH)
            from runner.install.envs import activation

            env = {**activation(self, connector, environ), **env}
        args = interpolate(connector.args, environ, f"{where}.args", problems, secrets, origins, ("args",),
                           tenant=tenant)
        catalog = None
        if connector.catalog:
            catalog = self.dir / fill(connector.catalog, tenant, f"{where}.catalog", problems)
            if check_catalog and not catalog.is_file():
                problems.append(f"{where}.catalog: catalog file not found: {catalog} "
                                f"(write it with: sluice discover {connector.name} -o {os.path.relpath(catalog)})")
        if problems:
            whose = f" (tenant '{tenant.id}')" if tenant else ""
            raise problems_error(f"{self.where}: connector '{connector.name}'{whose} cannot be used", problems)
        return ResolvedConnector(
            name=connector.name,
            argv=[argv0, *args],
            config=config,
            env=env,
            catalog=catalog,
            limits=connector.limits,
            env_values=origins,
            secret_settings=list(connector.secret_settings),
            cwd=self.dir,
        )

    def read_config(self, raw: dict[str, Any] | str | None, where: str, environ: Mapping[str, str],
                    problems: list[str], secrets: set[str], origins: dict[Place, set[str]],
                    tenant: Tenant | None = None) -> dict[str, Any]:
        """A ``config:`` value as the settings it means: inline, or read from a JSON file; ``${tenant.x}``
        and ``${ENV}`` filled in one pass (runner/interpolation.py)."""
        environ = self.scope(environ)
        if isinstance(raw, str):
            path = self.dir / interpolate(raw, environ, where, problems, secrets, tenant=tenant)
            config = self._read_config_file(path, where, problems)
            return interpolate(config, environ, f"{where}({path.name})", problems, secrets, origins,
                               ("config",), tenant=tenant)
        if isinstance(raw, dict):
            return interpolate(raw, environ, where, problems, secrets, origins, ("config",), tenant=tenant)
        return {}

    @staticmethod
    def _read_config_file(path: Path, where: str, problems: list[str]) -> dict[str, Any]:
        import orjson

        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            problems.append(f"{where}: config file not found: {path}")
            return {}
        except OSError as exc:
            problems.append(f"{where}: cannot read config file {path}: {exc.strerror}")
            return {}
        except orjson.JSONDecodeError as exc:
            problems.append(f"{where}: config file {path} is not valid JSON: {exc}")
            return {}
        if not isinstance(data, dict):
            problems.append(f"{where}: config file {path} must hold a JSON object")
            return {}
        return data


def find_project(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            for name in PROJECT_FILES:
                if (path / name).exists():
                    return path / name
            raise ConfigError(f"no sluice.yml in {path}")
        if not path.exists():
            raise ConfigError(f"project file not found: {path}")
        return path
    for name in PROJECT_FILES:
        if Path(name).exists():
            return Path(name)
    return None


def load_project(path: Path | None, environment: str | None = None,
                 environ: Mapping[str, str] | None = None) -> Project:
    """Load and validate ``sluice.yml`` (every environment) and lay the chosen one over it (runner/environments.py);
    None gives an empty project in the current directory."""
    environ = os.environ if environ is None else environ
    if path is None:
        if environment:
            raise ConfigError(f"--environment {environment}: no sluice.yml found in {Path.cwd()}; pass -p FILE")
        return Project(None, {})
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    from runner.yamlload import parse_project

    data, root = parse_project(path, text)
    text_digest = digest(text)
    checked = known_valid(path, text_digest)
    problems = [] if checked else [f"{path.name}:{p}" for p in validate_project(data, root)]
    chosen = None
    if not problems and (environment or environ.get("SLUICE_ENVIRONMENT") or "environments" in data
                         or "default_environment" in data):
        from runner.environments import overlay

        data, chosen = overlay(data, environment, environ, str(path.resolve()))
    tenants: dict[int, list[Tenant]] = {}
    for i, raw in enumerate(data.get("pipelines") or []):
        if isinstance(raw, dict) and isinstance(raw.get("for_each"), str | list):
            tenants[i], found = read_tenants(raw["for_each"], path.parent, f"pipelines[{i}].for_each", path.name,
                                             root, ["pipelines", i, "for_each"])
            problems += found
    if problems:
        raise ConfigError(f"{path}: invalid project file", problems)
    if not checked:
        remember_valid(path, text_digest)
    project = Project(path, data, tenants, chosen)
    if tenants:
        from runner.tenant_env import variable_clashes

        clashes = variable_clashes(project, environ)
        if clashes:
            raise ConfigError(f"{path}: invalid project file", clashes)
    return project

