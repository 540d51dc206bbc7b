"""``environments:`` of sluice.yml: named overlays laid over the base project (docs/environments.md).

An environment is chosen by ``--environment NAME``, else ``SLUICE_ENVIRONMENT``, else the file's
``default_environment``; with none of them the base project runs as it is, with today's state ids.
The chosen overlay is merged into the file's value before anything else reads it, so every command
sees one plain project; the merge (:func:`merge`):

- a mapping merges key by key into a mapping (recursively); any other value replaces the base's;
- a list replaces the base's list, except ``{"+": [...]}``, which appends to it;
- ``null`` removes the key (a connector or a pipeline, by name, included).

``connectors:`` and ``pipelines:`` of an overlay are mappings by name (the base's are lists): an entry
merges into the base's entry of that name, or is added when the base has none. The overlay's ``env:``
is laid over every connector's ``env:`` (the overlay's own ``connectors.X.env`` over that). State ids
get the prefix ``<environment>:`` unless the environment says ``state_id_scope: shared``.

This module is imported only when a project declares environments or one is asked for: a project
without them pays nothing for it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol import ConfigError
from runner.hints import did_you_mean

__all__ = ["APPEND", "ENV_VAR", "Environment", "apply", "environment_problems", "merge", "overlay", "select"]

ENV_VAR = "SLUICE_ENVIRONMENT"
APPEND = "+"  # {"+": [...]}: append to the base's list instead of replacing it
_SECTIONS = ("connectors", "pipelines")  # lists by name in the base, mappings by name in an overlay
_OWN_KEYS = ("state_id_scope", "env", *_SECTIONS)  # keys of an overlay that are not top-level settings


@dataclass(frozen=True)
class Environment:
    """The environment a project was loaded in."""

    name: str
    shared_state: bool  # state_id_scope: shared (the base project's state ids, unprefixed)

    @property
    def state_prefix(self) -> str:
        return "" if self.shared_state else f"{self.name}:"


def select(data: Mapping[str, Any], explicit: str | None, environ: Mapping[str, str], where: str) -> str | None:
    """The name of the environment to load (``explicit``, ``SLUICE_ENVIRONMENT``, ``default_environment``),
    None for the base project. A name the file does not declare is a :class:`ConfigError` naming the known."""
    name = explicit or environ.get(ENV_VAR) or data.get("default_environment") or None
    if name is None:
        return None
    declared = data.get("environments")
    known = declared if isinstance(declared, dict) else {}
    if name in known:
        return str(name)
    source = ("--environment" if explicit else ENV_VAR if environ.get(ENV_VAR) else "default_environment")
    listed = ", ".join(sorted(known)) if known else "it declares none (environments:)"
    raise ConfigError(f"{where}: no environment named '{name}' ({source}); environments: {listed}"
                      + did_you_mean(str(name), known))


def overlay(data: dict[str, Any], explicit: str | None, environ: Mapping[str, str],
            where: str) -> tuple[dict[str, Any], Environment | None]:
    """The project's value in the environment :func:`select` chooses, and that environment (None: the base)."""
    name = select(data, explicit, environ, where)
    return (data, None) if name is None else apply(data, name)


def apply(data: dict[str, Any], name: str) -> tuple[dict[str, Any], Environment]:
    """The project's value with environment ``name`` laid over it (the file's value is not changed)."""
    merged, problems = _apply(data, name)
    if problems:
        raise ConfigError(f"environment '{name}' cannot be laid over the project", problems)
    overlay = data["environments"][name] or {}
    return merged, Environment(name, overlay.get("state_id_scope") == "shared")


def _apply(data: dict[str, Any], name: str) -> tuple[dict[str, Any], list[str]]:
    overlay = data["environments"][name] or {}
    problems: list[str] = []
    top = {k: v for k, v in overlay.items() if k not in _OWN_KEYS}
    base = {k: v for k, v in data.items() if k not in ("environments", "default_environment")}
    out = merge(base, top, f"environments.{name}", problems)
    for section in _SECTIONS:
        if overlay.get(section):
            out[section] = _merge_named(base.get(section) or [], overlay[section],
                                        f"environments.{name}.{section}", problems)
    shared_env = overlay.get("env") or {}
    connectors_env = (overlay.get("connectors") or {})
    if shared_env:
        for conn in out.get("connectors") or []:
            own = (connectors_env.get(conn.get("name")) or {}).get("env") or {}
            conn["env"] = merge(merge(conn.get("env") or {}, shared_env, f"environments.{name}.env", problems),
                                own, f"environments.{name}.connectors.{conn.get('name')}.env", problems)
    return out, problems


def _merge_named(base: list[Any], overlay: Mapping[str, Any], where: str, problems: list[str]) -> list[Any]:
    """A base list of ``{name: ...}`` entries with an overlay mapping by name merged in (order kept,
    new names appended in the overlay's order, ``null`` removing one)."""
    out: list[Any] = []
    seen: set[str] = set()
    for entry in base:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in overlay:
            seen.add(name)
            if overlay[name] is None:
                continue
            entry = merge(entry, overlay[name], f"{where}.{name}", problems)
            entry["name"] = name
        out.append(copy.deepcopy(entry))
    for name, value in overlay.items():
        if name not in seen and value is not None:
            out.append({"name": name, **copy.deepcopy(value)})
    return out


def merge(base: Any, overlay: Any, where: str, problems: list[str]) -> Any:
    """``overlay`` laid over ``base`` by the rules in the module docstring (a new value; neither changes)."""
    if _is_append(overlay):
        if base is None or isinstance(base, list):
            return [*copy.deepcopy(base or []), *copy.deepcopy(overlay[APPEND])]
        problems.append(f"{where}: {{'{APPEND}': [...]}} appends to a list, and the base value is "
                        f"{type(base).__name__}, not a list")
        return copy.deepcopy(base)
    if not isinstance(base, dict) or not isinstance(overlay, dict):
        return copy.deepcopy(overlay)
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value, f"{where}.{key}", problems)
    return out


def _is_append(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == [APPEND] and isinstance(value[APPEND], list)


def environment_problems(data: dict[str, Any], validate: Any, line_of: Any) -> list[tuple[int, str]]:
    """``default_environment`` naming no environment; and those of every environment: the entries of its
    ``connectors:``/``pipelines:`` that are neither the base's nor whole (:func:`_strays`, at their lines),
    and its overlay merged into the project (without those) and checked as a project file
    (``validate(merged) -> [(line, text)]``), said as ``environments.NAME: ...`` at the environment's line.
    ``validate`` None: the file has problems; the environments are still merged and checked when the base
    project is sound, each whose own overlay is (one's misspelt key hides no other's problems)."""
    declared = data.get("environments")
    environments: dict[str, Any] = declared if isinstance(declared, dict) else {}
    out: list[tuple[int, str]] = []
    default = data.get("default_environment")
    if default is not None and default not in environments:
        listed = ", ".join(sorted(environments)) or "none declared"
        out.append((line_of(["default_environment"]),
                    f"default_environment: no environment named '{default}' (environments: {listed})"
                    + did_you_mean(str(default), environments)))
    check = validate if validate is not None else _check_if_sound(data)
    for name, overlay in environments.items():
        strays = _strays(data, name)
        out += [(line_of(["environments", name, *path]), text) for path, text in strays]
        if check is None or (validate is None and not _well_formed(overlay)):
            continue
        merged, problems = _apply(data, name)
        line = line_of(["environments", name])
        out += [(line, text) for text in problems]
        dropped = {(section, key) for (section, key), _ in strays}
        for section in {section for section, _ in dropped}:
            merged[section] = [e for e in merged[section] if (section, e.get("name")) not in dropped]
        if not problems:
            out += [(line, f"environments.{name}: {text}") for _, text in check(merged)]
    return out


def _strays(data: dict[str, Any], name: str) -> list[tuple[list[Any], str]]:
    """The entries of environment ``name``'s ``connectors:`` and ``pipelines:`` that name none of the base's
    and either remove it (``null``) or lack what a new one needs: most likely a misspelt name. Each as
    ``([section, key], text)``; none where the file's shape is not what these words assume."""
    from runner.project_schema import PROJECT_SCHEMA

    overlay = (data.get("environments") or {}).get(name)
    out: list[tuple[list[Any], str]] = []
    for section in _SECTIONS:
        entries, base = overlay.get(section) if isinstance(overlay, dict) else None, data.get(section) or []
        if not isinstance(entries, dict) or not isinstance(base, list):
            continue
        known = {e["name"]: e for e in base if isinstance(e, dict) and isinstance(e.get("name"), str)}
        need = [k for k in PROJECT_SCHEMA["properties"][section]["items"]["required"] if k != "name"]
        kind = section[:-1]
        for key, value in entries.items():
            missing = [k for k in need if isinstance(value, dict) and k not in value]
            if key in known or (value is not None and not missing):
                continue
            said = (f"null removes a {kind}, and the base has no {kind} '{key}'" if value is None else
                    f"no {kind} '{key}' in the base and not a whole {kind} "
                    f"({', '.join(repr(k) for k in missing)} missing)")
            out.append(([section, key], f"environments.{name}.{section}.{key}: {said}"
                        + did_you_mean(str(key), known)))
    return out


def _check_if_sound(data: dict[str, Any]) -> Any:
    """The check of a merged project (``merged -> [(line, text)]``) when the base project (the file without
    its environments) has no problem of its own, else None: each environment would repeat the base's."""
    from runner.project_validate import _problems

    base = {k: v for k, v in data.items() if k not in ("environments", "default_environment")}
    return None if _problems(base, None) else (lambda merged: _problems(merged, None))


def _well_formed(overlay: Any) -> bool:
    """Whether an environment's overlay is as the schema says (its problems are the file's, said apart)."""
    import jsonschema

    from runner.project_schema import PROJECT_SCHEMA

    return bool(jsonschema.Draft7Validator(PROJECT_SCHEMA["properties"]["environments"]["additionalProperties"])
                .is_valid(overlay))
