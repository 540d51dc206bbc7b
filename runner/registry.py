"""The connector registry: what ``sluice add NAME`` writes and ``sluice search WORD`` looks through.

A registry is a YAML (or JSON) file of connector entries, each a name, a kind, a variant, a
``pip_url`` (absent for the connectors of this distribution), an executable, a description,
keywords and the settings a working config needs. The file shipped in the package
(``runner/registry.yml``) holds our connectors and well-known public ones; ``SLUICE_REGISTRY``
names other files instead (``builtin`` in that list is the shipped one). Every entry is checked
when a registry is loaded, and every problem is reported at once, naming the file, the line and
the entry. The format is described in docs/registry.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol import ConfigError

__all__ = ["BUILTIN", "REGISTRY_SCHEMA", "Entry", "Registry", "Setting", "load_registry", "registry_paths"]

BUILTIN = Path(__file__).with_name("registry.yml")
_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "maxLength": 100}

_SETTING: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_+-]*(\.[A-Za-z0-9_][A-Za-z0-9_+-]*)*$"},
        "required": {"type": "boolean"},
        "secret": {"type": "boolean"},
        "description": {"type": "string"},
        "value": {"type": ["string", "number", "boolean", "array", "object"]},
    },
    # a secret is always written as a ${ENV} reference, never as a value
    "if": {"properties": {"secret": {"const": True}}, "required": ["secret"]},
    "then": {"not": {"required": ["value"]}},
}

REGISTRY_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "sluice connector registry",
    "type": "object",
    "additionalProperties": False,
    "required": ["connectors"],
    "properties": {
        "version": {"const": 1},
        "connectors": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "kind", "variant", "description"],
            "properties": {
                "name": _NAME,
                "kind": {"enum": ["tap", "target"]},
                "variant": _NAME,
                "default": {"type": "boolean"},
                "pip_url": {"oneOf": [{"type": "string", "minLength": 1},
                                      {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}]},
                "executable": {"type": "string", "minLength": 1},
                "description": {"type": "string", "minLength": 1},
                "keywords": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "settings": {"type": "array", "items": _SETTING},
            },
        }},
    },
}


@dataclass(frozen=True)
class Setting:
    name: str
    required: bool = False
    secret: bool = False
    description: str = ""
    value: Any = None  # written by `sluice add` instead of a ${ENV} reference (never for a secret)


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str
    variant: str
    description: str
    executable: str
    pip_url: str | tuple[str, ...] | None = None
    keywords: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()
    default: bool = False
    source: str = ""  # the registry file it came from

    def matches(self, word: str) -> bool:
        word = word.lower()
        return any(word in text.lower() for text in (self.name, self.variant, self.description, *self.keywords))

    def skeleton(self, connector_name: str) -> dict[str, Any]:
        """The config ``sluice add`` writes: each required setting as its value or a ``${ENV}`` reference."""
        config: dict[str, Any] = {}
        for setting in self.settings:
            if not setting.required:
                continue
            value = setting.value if setting.value is not None and not setting.secret else \
                "${" + env_name(connector_name, setting.name) + "}"
            *parents, leaf = setting.name.split(".")
            node = config
            for part in parents:  # Meltano-style dotted names are nested objects
                node = node.setdefault(part, {})
            node[leaf] = value
        return config

    def env_vars(self, connector_name: str) -> list[str]:
        """The variables the skeleton refers to (what to set before a run)."""
        return [env_name(connector_name, s.name) for s in self.settings
                if s.required and (s.secret or s.value is None)]


def env_name(connector: str, setting: str) -> str:
    """``tap-github`` + ``auth_token`` -> ``TAP_GITHUB_AUTH_TOKEN`` (the variable names Meltano uses too)."""
    name = re.sub(r"[^A-Z0-9]+", "_", f"{connector}_{setting}".upper()).strip("_")
    return f"_{name}" if name[:1].isdigit() else name  # ${1X} would not be a reference


class Registry:
    """Entries by name; the default variant of a name first."""

    def __init__(self, entries: Iterable[Entry], sources: list[str]) -> None:
        self.sources = sources
        by_key: dict[tuple[str, str], Entry] = {}
        for entry in entries:  # a later file's entry replaces an earlier one of the same name and variant, in place
            by_key[(entry.name, entry.variant)] = entry
        self.by_name: dict[str, list[Entry]] = {}
        for entry in by_key.values():
            self.by_name.setdefault(entry.name, []).append(entry)
        for variants in self.by_name.values():
            marked = [e for e in variants if e.default]
            first = marked[-1] if marked else variants[0]  # the last file's default wins
            variants.sort(key=lambda e: e is not first)

    def entries(self) -> list[Entry]:
        return [entry for name in sorted(self.by_name) for entry in self.by_name[name]]

    def search(self, word: str | None) -> list[Entry]:
        return [entry for entry in self.entries() if word is None or entry.matches(word)]

    def get(self, name: str, variant: str | None = None) -> Entry:
        from runner.hints import did_you_mean

        variants = self.by_name.get(name)
        where = ", ".join(self.sources)
        if not variants:
            raise ConfigError(f"no connector named '{name}' in the registry ({where})"
                              + did_you_mean(name, self.by_name)
                              + f"; to add it anyway: sluice add {name} --pip-url SPEC")
        if variant is None:
            return variants[0]
        for entry in variants:
            if entry.variant == variant:
                return entry
        known = ", ".join(e.variant for e in variants)
        raise ConfigError(f"the registry has no variant '{variant}' of '{name}' (variants: {known})")


def registry_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The registry files in the order they are read: ``SLUICE_REGISTRY`` or the shipped one."""
    value = (os.environ if environ is None else environ).get("SLUICE_REGISTRY", "").strip()
    if not value:
        return [BUILTIN]
    return [BUILTIN if part == "builtin" else Path(part).expanduser() for part in value.split(os.pathsep) if part]


def load_registry(paths: list[Path] | None = None) -> Registry:
    """Read and check every registry file; all problems of all files in one error."""
    paths = registry_paths() if paths is None else paths
    entries: list[Entry] = []
    problems: list[str] = []
    for path in paths:
        entries.extend(_load_file(path, problems))
    if problems:
        raise ConfigError("invalid connector registry", problems)
    return Registry(entries, [str(p) for p in paths])


def _load_file(path: Path, problems: list[str]) -> list[Entry]:
    import yaml

    from runner.hints import yaml_error_text

    try:
        text = path.read_text()
    except OSError as exc:
        problems.append(f"{path}: cannot read the registry file: {exc.strerror} (SLUICE_REGISTRY names it)")
        return []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        problems.append(yaml_error_text(path, text, exc))
        return []
    found = _check(data, root)
    if found:
        problems.extend(f"{path}:{problem}" for problem in found)
        return []
    return [_entry(raw, str(path)) for raw in data["connectors"]]


def _check(data: Any, root: Any) -> list[str]:
    """Schema problems, then duplicates, as ``LINE: connectors[i] (NAME): message``."""
    import jsonschema

    from runner.project_validate import _line_of

    def label(path: list[Any]) -> str:
        if len(path) >= 2 and path[0] == "connectors" and isinstance(path[1], int):
            raw = data["connectors"][path[1]]
            name = raw.get("name") if isinstance(raw, dict) else None
            rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[2:])
            return f"connectors[{path[1]}]" + (f" ({name})" if isinstance(name, str) else "") + rest
        return ".".join(str(p) for p in path) or "(top level)"

    found: list[tuple[int, str]] = []
    for error in jsonschema.Draft7Validator(REGISTRY_SCHEMA).iter_errors(data):
        path = list(error.absolute_path)
        message = error.message
        if error.validator == "not":
            message = "a secret setting has no value: it is written as a ${ENV} reference"
        found.append((_line_of(root, path), f"{label(path)}: {message}"))
    if not found:
        seen: dict[tuple[str, str], int] = {}
        defaults: dict[str, int] = {}
        for i, raw in enumerate(data["connectors"]):
            key = (raw["name"], raw["variant"])
            if key in seen:
                found.append((_line_of(root, ["connectors", i]), f"{label(['connectors', i])}: variant "
                              f"'{raw['variant']}' is also connectors[{seen[key]}]"))
            seen[key] = i
            if raw.get("default"):
                if raw["name"] in defaults:
                    found.append((_line_of(root, ["connectors", i, "default"]), f"{label(['connectors', i])}: "
                                  f"connectors[{defaults[raw['name']]}] is already the default of '{raw['name']}'"))
                defaults[raw["name"]] = i
    found.sort(key=lambda item: item[0])
    return [f"{line}: {text}" for line, text in found]


def _entry(raw: dict[str, Any], source: str) -> Entry:
    pip_url = raw.get("pip_url")
    return Entry(
        name=raw["name"],
        kind=raw["kind"],
        variant=raw["variant"],
        description=raw["description"],
        executable=raw.get("executable") or raw["name"],
        pip_url=tuple(pip_url) if isinstance(pip_url, list) else pip_url,
        keywords=tuple(raw.get("keywords") or ()),
        settings=tuple(Setting(s["name"], bool(s.get("required")), bool(s.get("secret")),
                               s.get("description", ""), s.get("value")) for s in raw.get("settings") or []),
        default=bool(raw.get("default")),
        source=source,
    )
