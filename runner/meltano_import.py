"""``sluice import meltano.yml``: a Meltano project as a sluice.yml, and a report of what did not convert.

The pieces: runner.meltano_project reads the project (inheritance, lock files, one environment),
runner.meltano_connectors turns extractors and loaders into connectors, runner.meltano_pipelines
turns jobs and schedules into pipelines, runner.meltano_values keeps references and drops secrets.
This module joins them, adds what the whole project says (its ``env:``, its environments, the
plugins sluice does not run), and writes the file with a comment above each entry saying where it
came from. The file is checked against the sluice.yml schema before it is written.

A value of the project's ``env:`` becomes the default of the references to its variable
(``${PG_HOST:-prod-db.internal}``), unless it is a secret: by its name, by its value, or because a
reference to it stands where a secret goes (a password setting): the connectors are then converted
again without that default, and the report asks for the variable.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from protocol import ConfigError
from runner.meltano_connectors import Context, connector
from runner.meltano_pipelines import pipelines
from runner.meltano_project import OTHER_TYPES, PLUGIN_TYPES, MeltanoProject, Plugin, load_meltano
from runner.meltano_report import Report
from runner.meltano_values import Refs, holds_credential, is_secret_name

__all__ = ["ImportResult", "import_meltano", "write_import"]

# top-level keys of meltano.yml that say nothing sluice.yml could hold, or are handled here
_QUIET = {"version", "default_environment", "project_id", "send_anonymous_usage_stats", "plugins", "jobs",
          "schedules", "environments", "env", "include_paths", "python"}


_SINGULAR = {"mappers": "mapper", "transformers": "transformer", "transforms": "transform", "utilities": "utility",
             "orchestrators": "orchestrator", "files": "file bundle"}


@dataclass
class ImportResult:
    data: dict[str, Any]  # the sluice.yml
    text: str  # the file as written: data, with comments
    report: Report


def _env_defaults(meltano: MeltanoProject, report: Report, hidden: frozenset[str]) -> dict[str, str]:
    """The project's (and its environment's) ``env:`` values a reference may default to; secrets, and the
    ``hidden`` variables (referenced where a secret goes), left out."""
    env: dict[str, tuple[Any, str]] = {name: (value, "env:") for name, value in (meltano.data.get("env") or {}).items()}
    for item in meltano.data.get("environments") or []:
        if isinstance(item, dict) and item.get("name") == meltano.environment:
            where = f"the env: of environment {meltano.environment}"
            env.update({name: (value, where) for name, value in (item.get("env") or {}).items()})
    out: dict[str, str] = {}
    for name, (value, where) in env.items():
        text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        if is_secret_name(str(name)) or holds_credential(text):
            report.need(str(name), f"secret in meltano.yml's {where}, not copied: set it, and add it under the env: "
                        f"of a connector that reads it")
        elif str(name) in hidden:
            continue  # reported where it is referenced
        elif "$" in text or "}" in text or "\n" in text:
            report.skip(f"env.{name}", "its value cannot be a ${VAR:-default}; set the variable instead")
        else:
            out[str(name)] = text
    return out


def _project_notes(meltano: MeltanoProject, report: Report) -> None:
    plugins = meltano.data.get("plugins") or {}
    for kind in OTHER_TYPES:
        for item in plugins.get(kind) or []:
            name = item.get("name") if isinstance(item, dict) else item
            why = ("not converted by sluice import: declare it as a connector and list it under a pipeline's maps:"
                   if kind == "mappers" else f"sluice runs taps, mappers and targets only ({kind} are Meltano's)")
            report.skip(f"{_SINGULAR[kind]} {name}", why)
    for kind in plugins:
        if kind not in PLUGIN_TYPES and kind not in OTHER_TYPES:
            report.skip(f"plugins.{kind}", "not a plugin type sluice import knows")
    for key in meltano.data:
        if key not in _QUIET:
            report.skip(key, "a Meltano setting with no sluice.yml equivalent")
    for item in meltano.data.get("environments") or []:
        name = item.get("name") if isinstance(item, dict) else item
        if name != meltano.environment:
            report.skip(f"environment {name}", "only one environment is converted (sluice import --environment "
                        "NAME chooses it)")
    if meltano.environment:
        report.converted.append(f"environment {meltano.environment}: its plugin config, select, metadata and "
                                f"env: applied")
    report.notes.append("bookmarks stay in Meltano's state backend: move one with `meltano state get ID` and "
                        "`sluice state set PIPELINE @FILE` (its singer_state value)")
    for problem in meltano.problems:
        report.skip("plugins", problem)


def _refs_report(refs: Refs, report: Report, hidden: frozenset[str], dotenv: set[str]) -> None:
    for name, where in refs.used.items():
        if name in dotenv:  # a setting of .env: reported as such
            continue
        if name in refs.meltano:
            report.skip(f"${name} ({where})", "Meltano sets it at run time and sluice does not: set it yourself")
        elif name in hidden:
            report.need(name, f"referenced where a secret goes ({refs.secret_used[name]}); meltano.yml's env: "
                        f"sets it, its value was not copied")
            continue
        elif name in refs.defaults:
            continue
        report.need(name, f"referenced by {where}")
    for where in refs.escaped_before_ref:
        report.skip(where, "a literal '$' right before a reference cannot be written in sluice.yml")


def _origin(plugin: Plugin) -> str:
    text = f"{plugin.kind[:-1]} {plugin.name}"
    if plugin.get("variant"):
        text += f", variant {plugin.get('variant')}"
    if plugin.parent:
        text += f", inherits from {plugin.parent}"
    select = plugin.get("select")
    if isinstance(select, list) and select:
        text += f"; select: {', '.join(str(s) for s in select)}"
    return text


def _render(data: dict[str, Any], comments: dict[str, list[str]], meltano: MeltanoProject, report: Report) -> str:
    def dump(value: Any) -> str:
        return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)

    head = [f"# Imported from {meltano.path.name} by `sluice import`"
            + (f" (environment {meltano.environment})" if meltano.environment else "") + ".",
            "# Review it, then: sluice validate; the report of the import lists what was not converted."]
    if report.env_vars:
        head.append(f"# Set before running: {', '.join(sorted(report.env_vars))}")
    out = ["\n".join(head), "version: 1"]
    for section in ("connectors", "pipelines"):
        items = data.get(section) or []
        if not items:
            continue
        out.append(f"\n{section}:")
        for item, comment in zip(items, comments[section], strict=True):
            body = "\n".join(f"  {line}" if line else line for line in dump([item]).rstrip("\n").split("\n"))
            out.append(f"  # {comment}\n{body}")
    return "\n".join(out) + "\n"


def _connectors(meltano: MeltanoProject, out_dir: Path,
                hidden: frozenset[str]) -> tuple[Report, Refs, list[dict[str, Any]], list[str]]:
    """The connectors, and the report and references so far; no default for the ``hidden`` variables."""
    report = Report()
    refs = Refs(_env_defaults(meltano, report, hidden))
    ctx = Context(meltano.dir.resolve(), out_dir.resolve(), refs, report)
    connectors, comments = [], []
    for kind in PLUGIN_TYPES:
        for plugin in meltano.of_kind(kind):
            connectors.append(connector(plugin, ctx))
            comments.append(_origin(plugin))
            report.converted.append(f"{plugin.kind[:-1]} {plugin.name} -> connector {plugin.name}")
    return report, refs, connectors, comments


def import_meltano(path: Path, out_dir: Path, environment: str | None = None) -> ImportResult:
    """Convert the Meltano project of ``path`` into sluice.yml data meant for ``out_dir``."""
    meltano = load_meltano(path, environment)
    hidden: frozenset[str] = frozenset()
    report, refs, connectors, comments = _connectors(meltano, out_dir, hidden)
    if refs.secret_used.keys() & refs.defaults.keys():  # a default would write a secret: again without it
        hidden = frozenset(refs.secret_used.keys() & refs.defaults.keys())
        report, refs, connectors, comments = _connectors(meltano, out_dir, hidden)
    found = pipelines(meltano, report)
    _project_notes(meltano, report)
    _refs_report(refs, report, hidden, {var for p in meltano.plugins.values() for var in p.dotenv.values()})
    if meltano.dir.resolve() != out_dir.resolve():
        report.notes.append(f"relative paths inside settings resolve from {out_dir.resolve()} under sluice (from "
                            f"{meltano.dir.resolve()} under Meltano): check them")
        if any(p.dotenv for p in meltano.plugins.values()):
            report.notes.append(f"settings read from {meltano.dir / '.env'} are references to its variables: "
                                f"sluice reads the .env beside sluice.yml, so copy it there or set them")
    report.notes.append("connectors see only PATH, HOME, LANG and their env: (Meltano passes its whole "
                        "environment): add any other variable a connector reads under its env:")
    data: dict[str, Any] = {"version": 1, "connectors": connectors}
    if found.items:
        data["pipelines"] = found.items
    text = _render(data, {"connectors": comments, "pipelines": found.origins}, meltano, report)
    _check(text)
    return ImportResult(data, text, report)


def _check(text: str) -> None:
    from runner.project_validate import validate_project

    problems = validate_project(yaml.safe_load(text), yaml.compose(text))  # with the scalars `validate` checks
    if problems:  # a bug of the converter: say so rather than write a file sluice refuses
        raise ConfigError("sluice import made a sluice.yml that does not validate", problems)


def write_import(result: ImportResult, target: Path, force: bool) -> None:
    """Write the file (atomically); an existing one only with ``force``."""
    if target.exists() and not force:
        raise ConfigError(f"{target} exists; pass --force to replace it (or -o PATH to write elsewhere)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(result.text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
