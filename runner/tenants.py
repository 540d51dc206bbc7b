"""One pipeline for many tenants: ``for_each:`` records, and ``${tenant.x}`` in connector settings.

A pipeline with ``for_each:`` (a list of tenant records inline, or the path of a YAML or JSON
file holding one) is a template: the project holds one pipeline per record instead of it,
named ``<pipeline>@<id>``, with the state id ``<state_id>@<id>`` (so its own bookmarks, lock
and run history). When such a pipeline runs, ``${tenant.FIELD}`` in the settings of its
connectors (inline and config files), their ``args:``, ``env:`` and ``catalog:``, and its map
steps' settings, is replaced by the record's field, and ``${tenant.env.NAME}`` by the
environment variable of that tenant: ``<ID>_NAME`` (the id in capitals), or the variable the
record's ``env:`` names for ``NAME``. The connector's settings are filled in the same pass as
``${ENV}`` (runner/interpolation.py, which asks :func:`lookup`): a ``${tenant.env.NAME}`` is read
as an ordinary ``${VARIABLE}`` (so it is secret, and a variable that is not set is an error naming
it), and a field's text is inserted as it is, never read again (a field ending in ``$`` does not
join the template's next ``{``). Inside a default or a provider's reference (``${file:${tenant.id}.pw}``)
the fields are filled first, by :func:`fill`, which places that need no ``${ENV}`` use too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.project import Connector, Pipeline, Project

__all__ = ["TENANT_ID_PATTERN", "Tenant", "connector_variants", "fill", "lookup", "read_tenants"]

TENANT_ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}\Z"  # \Z: "$" would let a final newline in
_ID = re.compile(TENANT_ID_PATTERN)
_ID_RULE = "lowercase letters, digits and '_', starting with a letter, at most 63 characters"
#: ``$${`` (kept for the ${ENV} pass, which makes it a literal), or ``${tenant.A[.B][:-default]}``
_REF = re.compile(r"\$\$\{|\$\{tenant\.([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Tenant:
    """One record of a ``for_each:`` list: its id, its fields (the id among them), its ``env:``."""

    id: str
    fields: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)  # NAME of ${tenant.env.NAME} -> variable

    def variable(self, name: str) -> str:
        """The environment variable ``${tenant.env.NAME}`` reads for this tenant."""
        return self.env.get(name) or f"{self.id.upper()}_{name}"

    def field_text(self, name: str) -> str | None:
        value = self.fields.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def fill(value: Any, tenant: Tenant | None, where: str, problems: list[str]) -> Any:
    """``value`` with every ``${tenant...}`` of its strings replaced (see the module docstring).

    Outside a tenant pipeline (``tenant`` None) a reference is a problem, never left as text."""
    if isinstance(value, str):
        if "${tenant." not in value:
            return value

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$${":
                return m.group(0)
            return _replace(m, tenant, where, problems)

        return _REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: fill(v, tenant, f"{where}.{k}", problems) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, tenant, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    return value


def _replace(m: re.Match[str], tenant: Tenant | None, where: str, problems: list[str]) -> str:
    found = lookup(m.group(0), tenant, where, problems)
    if isinstance(found, str):
        return found.replace("${", "$${")  # a field's text is literal: the ${ENV} pass must not read it
    name, default = found
    return "${" + name + (f":-{default}" if default is not None else "") + "}"


def lookup(text: str, tenant: Tenant | None, where: str, problems: list[str]) -> str | tuple[str, str | None]:
    """What ``text``, one ``${tenant...}`` reference, stands for: a field's text (or the default), or for
    ``${tenant.env.NAME[:-default]}`` the variable to read and its default. A problem gives ""."""
    m = _REF.fullmatch(text)
    if m is None or m.group(1) is None:
        problems.append(f"{where}: {text}: not a tenant reference (${{tenant.FIELD}}, ${{tenant.FIELD:-default}} "
                        "or ${tenant.env.NAME})")
        return ""
    name, sub, default = m.group(1), m.group(2), m.group(3)
    if tenant is None:
        problems.append(f"{where}: {text} is only filled in a pipeline with for_each: (one per tenant)")
        return ""
    if name == "env" and sub:
        return tenant.variable(sub), default
    if sub:
        problems.append(f"{where}: {text}: a tenant field has no parts (only ${{tenant.env.NAME}} has)")
        return ""
    found = tenant.field_text(name)
    if found is not None:
        return found
    if default is not None:
        return default
    known = ", ".join(sorted(tenant.fields))
    problems.append(f"{where}: tenant '{tenant.id}' has no field '{name}' (its fields: {known})")
    return ""


def _problem(file: str, line: int, where: str, message: str) -> str:
    return f"{file}:{line}: {where}: {message}"


def read_tenants(for_each: str | list[Any], base: Path, where: str, project_file: str, root: Any,
                 at: list[Any]) -> tuple[list[Tenant], list[str]]:
    """The tenants of a pipeline's ``for_each:`` and every problem of them, each ``FILE:LINE: PLACE: text``.

    ``root`` is the project file's YAML node and ``at`` the path of the ``for_each:`` value in it (for
    the lines of an inline list); a file's records are placed by their index in the file (``[3].id``)."""
    from runner.project_validate import _line_of

    if isinstance(for_each, list):
        return _records(for_each, root, at, project_file, where)
    path = (base / for_each).resolve()
    line = _line_of(root, at)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return [], [_problem(project_file, line, where, f"tenants file not found: {path}")]
    except OSError as exc:
        return [], [_problem(project_file, line, where, f"cannot read tenants file {path}: {exc.strerror}")]
    from runner.hints import yaml_error_text
    from runner.yamlload import yaml_module

    yaml = yaml_module()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        return [], [yaml_error_text(Path(for_each), text, exc)]
    root = functools.cache(lambda: yaml.compose(text, Loader=loader))  # for the lines of problems only
    if not isinstance(data, list):
        return [], [_problem(for_each, _line_of(root, []), "(top level)",
                                        f"a tenants file holds a list of tenant records (each a mapping with an "
                                        f"id), not {_kind(data)} (for_each: of {where.split('.')[0]})")]
    from runner.yamlscalars import surprising_scalars

    tenants, problems = _records(data, root, [], for_each, "")
    surprises = [f"{for_each}:{line}: {text}" for line, text in surprising_scalars(root)]
    return ([] if surprises else tenants), problems + surprises


def _records(raw: list[Any], node: Any, at: list[Any], file: str, where: str) -> tuple[list[Tenant], list[str]]:
    """Check every record (the same rules inline and in a file); the tenants, when there is no problem."""
    from runner.project_validate import _line_of

    tenants: list[Tenant] = []
    problems: list[str] = []
    first: dict[str, int] = {}
    for i, record in enumerate(raw):
        place = f"{where}[{i}]"
        found = _record_problems(record)
        for key, message in found:
            line = _line_of(node, [*at, i, key] if key else [*at, i])
            problems.append(_problem(file, line, f"{place}.{key}" if key else place, message))
        if found:
            continue
        tid = record["id"]
        if tid in first:
            problems.append(_problem(file, _line_of(node, [*at, i, "id"]), f"{place}.id",
                                                f"duplicate tenant id '{tid}' (also {where}[{first[tid]}])"))
            continue
        first[tid] = i
        fields = {k: v for k, v in record.items() if k != "env"}
        tenants.append(Tenant(tid, fields, dict(record.get("env") or {})))
    return tenants, problems


_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _record_problems(record: Any) -> list[tuple[str, str]]:
    """(key, message) for every problem of one record ('' for the record itself)."""
    if not isinstance(record, dict):
        return [("", f"a tenant record is a mapping with an id, not {_kind(record)}")]
    out: list[tuple[str, str]] = []
    tid = record.get("id")
    if "id" not in record:
        out.append(("", "a tenant record needs an id"))
    elif not isinstance(tid, str) or not _ID.match(tid):
        out.append(("id", f"{tid!r} is not a valid tenant id ({_ID_RULE})"))
    for key, value in record.items():
        if not isinstance(key, str) or not _FIELD.match(key):
            out.append(("", f"{key!r} is not a valid field name (letters, digits and '_', not first a digit)"))
        elif key == "env":
            out += _env_problems(value)
        elif key != "id" and (value is None or not isinstance(value, str | int | float | bool)):
            out.append((key, f"a tenant field is a string, number or boolean, not {_kind(value)}"))
    return out


def _env_problems(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return [("env", f"env: maps names of ${{tenant.env.NAME}} to variable names, not {_kind(value)}")]
    return [("env", f"{name!r}: {var!r} is not an environment variable name")
            for name, var in value.items()
            if not (isinstance(name, str) and _FIELD.match(name) and isinstance(var, str) and _FIELD.match(var))]


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def connector_variants(project: Project, conn: Connector) -> list[Connector]:
    """``conn`` as each pipeline that runs it fills it: once per tenant of the pipelines with
    ``for_each:`` that run it, and as it is if another pipeline runs it, or none does."""
    from dataclasses import replace

    def runs(p: Pipeline) -> bool:
        return conn.name in (p.tap, p.target, *(s.mapper for s in p.maps))

    users = [p for p in project.pipelines.values() if runs(p)]
    variants: dict[str, Connector] = {}
    for pipe in users:
        t = pipe.tenant_record
        if t is not None:
            key = repr((t.id, sorted(t.fields.items()), sorted(t.env.items())))
            variants.setdefault(key, replace(conn, tenant=t))
    unused = not users and not any(runs(p) for p in project.template_pipelines.values())
    plain = [conn] if unused or any(p.tenant_record is None for p in users) else []
    return plain + list(variants.values())
