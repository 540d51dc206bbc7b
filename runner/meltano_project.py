"""Reading a Meltano project for ``sluice import``: meltano.yml (and its ``include_paths``), lock files,
plugin inheritance and one environment's overlay, into one resolved definition per plugin.

What is read and how it combines, as Meltano does:

- ``plugins.extractors`` / ``plugins.loaders``: each plugin's keys (``variant``, ``pip_url``,
  ``executable``, ``namespace``, ``capabilities``, ``settings``, ``config``, ``select``, ``metadata``,
  ``env``, ...).
- ``inherit_from``: the parent (a plugin of the same type in the project, or else one known only by
  its lock file) gives every key the child does not set; ``config``, ``metadata`` and ``env`` merge
  key by key (the child's win), ``settings`` merge by name, ``select`` is the child's when it has one.
- ``plugins/<type>/<name>--<variant>.lock`` (written by ``meltano add`` / ``meltano lock``): the Hub
  definition of a plugin: ``pip_url``, ``executable``, ``capabilities`` and ``settings`` a plugin of
  meltano.yml does not state.
- an environment (``environments[].config.plugins``): its ``config``, ``metadata`` and ``env`` merge
  over the plugin's, its ``select`` replaces it. As in Meltano, a child gets its parent with the
  parent's overlay applied, then its own keys, then its own overlay.
- meltano.yml and its included files are read by YAML 1.2's rules, as Meltano reads them
  (runner.meltano_yaml): ``NO`` is text, ``0755`` is 755.
- a ``.env`` file: the names of the variables Meltano would read a setting from (runner.meltano_dotenv);
  its values are never read.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from protocol import ConfigError
from runner.meltano_dotenv import dotenv_names, extra_vars, setting_vars
from runner.meltano_yaml import load_yaml12

__all__ = ["MeltanoProject", "Plugin", "deep_merge", "load_meltano"]

PLUGIN_TYPES = ("extractors", "loaders")
OTHER_TYPES = ("mappers", "transformers", "transforms", "utilities", "orchestrators", "files")


def deep_merge(base: Any, over: Any) -> Any:
    """``over`` laid on ``base``: mappings merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = copy.deepcopy(base)
        for key, value in over.items():
            out[key] = deep_merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


@dataclass
class Plugin:
    """One extractor or loader, its definition resolved (parent, lock file and environment applied)."""

    kind: str  # "extractors" or "loaders"
    name: str
    data: dict[str, Any]  # the resolved keys of meltano.yml
    lock: dict[str, Any] = field(default_factory=dict)  # the lock file's definition, when found
    ancestors: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (name, resolved keys), parent first
    dotenv: dict[str, str] = field(default_factory=dict)  # setting -> the .env variable Meltano reads it from
    dotenv_extras: list[str] = field(default_factory=list)  # .env variables that set an extra (TAP_X__SELECT)

    @property
    def parent(self) -> str | None:
        return self.ancestors[0][0] if self.ancestors else None

    @property
    def base(self) -> str:
        """The plugin everything is inherited from: its name is Meltano's default executable."""
        return self.ancestors[-1][0] if self.ancestors else self.name

    def get(self, key: str, default: Any = None) -> Any:
        """A key of the plugin, else of its lock file."""
        if key in self.data:
            return self.data[key]
        return self.lock.get(key, default)

    def settings(self) -> dict[str, dict[str, Any]]:
        """Declared settings by name: the lock file's, then meltano.yml's over them."""
        out: dict[str, dict[str, Any]] = {}
        for source in (self.lock.get("settings"), self.data.get("settings")):
            for item in source or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    out[item["name"]] = {**out.get(item["name"], {}), **item}
        return out


@dataclass
class MeltanoProject:
    path: Path
    data: dict[str, Any]
    plugins: dict[str, Plugin]  # extractors and loaders by name
    environment: str | None  # the environment whose overlay was applied
    problems: list[str] = field(default_factory=list)  # what could not be read, for the report
    dotenv: frozenset[str] = frozenset()  # the variable names of the project's .env (values never read)

    @property
    def dir(self) -> Path:
        return self.path.parent

    def of_kind(self, kind: str) -> list[Plugin]:
        return [p for p in self.plugins.values() if p.kind == kind]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = load_yaml12(text)
    except yaml.YAMLError as exc:
        from runner.hints import yaml_error_text

        raise ConfigError(yaml_error_text(path, text, exc)) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a Meltano project file (a mapping with plugins:, jobs:, schedules:)")
    return data


def _include(root: Path, data: dict[str, Any]) -> dict[str, Any]:
    """meltano.yml with the files of its ``include_paths`` merged in (lists appended, as Meltano does)."""
    out = copy.deepcopy(data)
    for pattern in data.get("include_paths") or []:
        for path in sorted(root.glob(str(pattern))):
            extra = _read_yaml(path)
            for key in ("jobs", "schedules", "environments"):
                out[key] = [*(out.get(key) or []), *(extra.get(key) or [])]
            plugins = out.setdefault("plugins", {})
            for kind, items in (extra.get("plugins") or {}).items():
                plugins[kind] = [*(plugins.get(kind) or []), *(items or [])]
    return out


def _lock_file(root: Path, kind: str, name: str, variant: str | None) -> dict[str, Any]:
    folder = root / "plugins" / kind
    candidates = [folder / f"{name}--{variant}.lock"] if variant else sorted(folder.glob(f"{name}--*.lock"))
    for path in candidates:
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def _inherit(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in parent.items() if k not in ("name", "inherit_from")}
    for key, value in child.items():
        if key in ("config", "metadata", "env") and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value or {})
        elif key == "settings":
            named = {s.get("name"): s for s in [*(out.get("settings") or []), *(value or [])] if isinstance(s, dict)}
            out[key] = list(named.values())
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class _Source:
    """What resolving a plugin reads: the project's plugins of one type by name, its directory, the
    environment applied and the variable names of its .env file."""

    kind: str
    by_name: dict[str, dict[str, Any]]
    root: Path
    environment: dict[str, Any]
    dotenv: frozenset[str]


def _resolve(raw: dict[str, Any], src: _Source, seen: tuple[str, ...] = ()) -> Plugin:
    """A plugin as Meltano resolves it: its parent (with the parent's environment overlay) under its own
    keys, its own overlay over both; the lock file of the plugin or its first ancestor; the settings
    Meltano would read from .env."""
    name = str(raw.get("name"))
    own = _overlay(raw, src.environment, src.kind, name)
    parent_name = raw.get("inherit_from")
    if not parent_name:
        plugin = Plugin(src.kind, name, own, _lock_file(src.root, src.kind, name, raw.get("variant")))
        inherited: dict[str, str] = {}
    else:
        if parent_name in seen:
            raise ConfigError(f"plugins.{src.kind}: {name}: inherit_from makes a cycle "
                              f"({' -> '.join((*seen, name))})")
        if parent_name in src.by_name:
            parent = _resolve(src.by_name[parent_name], src, (*seen, name))
        else:  # a plugin of Meltano Hub, known here by its lock file only
            lock = _lock_file(src.root, src.kind, str(parent_name), raw.get("variant"))
            parent = Plugin(src.kind, str(parent_name), {}, lock)
            parent.dotenv = setting_vars(parent, {}, {}, src.dotenv)
        plugin = Plugin(src.kind, name, _inherit(parent.data, own), parent.lock,
                        [(parent.name, parent.data), *parent.ancestors])
        inherited = parent.dotenv
    plugin.dotenv = setting_vars(plugin, own, inherited, src.dotenv)
    plugin.dotenv_extras = extra_vars(plugin, own, src.dotenv)
    return plugin


def _overlay(data: dict[str, Any], environment: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    for item in ((environment.get("config") or {}).get("plugins") or {}).get(kind) or []:
        if isinstance(item, dict) and item.get("name") == name:
            data = dict(data)
            for key in ("config", "metadata", "env"):
                if key in item:
                    data[key] = deep_merge(data.get(key) or {}, item[key] or {})
            if "select" in item:
                data["select"] = list(item["select"] or [])
    return data


def _environment(data: dict[str, Any], wanted: str | None) -> tuple[dict[str, Any], str | None]:
    """The environment to apply: ``wanted`` ("" for none), else the project's ``default_environment``."""
    environments = {e.get("name"): e for e in data.get("environments") or [] if isinstance(e, dict)}
    name = data.get("default_environment") if wanted is None else wanted
    if not name:
        return {}, None
    if name not in environments:
        if wanted is None:
            return {}, None
        known = ", ".join(str(n) for n in environments) or "none"
        raise ConfigError(f"meltano.yml has no environment '{wanted}' (environments: {known})")
    return environments[name], str(name)


def load_meltano(path: Path, environment: str | None = None) -> MeltanoProject:
    """The Meltano project at ``path`` (meltano.yml), its extractors and loaders resolved."""
    root = path.parent
    data = _include(root, _read_yaml(path))
    env, env_name = _environment(data, environment)
    names = dotenv_names(root)
    plugins: dict[str, Plugin] = {}
    problems: list[str] = []
    for kind in PLUGIN_TYPES:
        items = (data.get("plugins") or {}).get(kind) or []
        by_name = {str(i.get("name")): i for i in items if isinstance(i, dict) and i.get("name")}
        src = _Source(kind, by_name, root, env, names)
        for raw in items:
            if not isinstance(raw, dict) or not raw.get("name"):
                problems.append(f"plugins.{kind}: an entry without a name ({raw!r:.60})")
                continue
            plugins[str(raw["name"])] = _resolve(raw, src)
    return MeltanoProject(path, data, plugins, env_name, problems, names)
