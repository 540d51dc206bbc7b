"""The settings a Meltano project's ``.env`` sets (``sluice import``), found by variable name only.

Meltano reads a plugin's setting from the environment, and from the project's ``.env``, before
anything meltano.yml says (its own config or its environment's). The variable is the plugin's
name, or its namespace, then the setting, upper-cased with every other character as ``_``
(``tap-github`` ``auth_token`` → ``TAP_GITHUB_AUTH_TOKEN``; ``ssh.private_key`` →
``..._SSH_PRIVATE_KEY``). Its settings are the declared ones (meltano.yml, lock file, parent) and
every key found in its config, nested keys dotted (Meltano makes a setting of each). A plugin that
``inherit_from`` another has its own name as namespace by default, and takes from the parent what it
does not set itself: the parent's ``.env`` value too. Extras (``TAP_X__SELECT``, ...) are Meltano's.

Only names are read here: the values stay in ``.env``, which sluice reads beside sluice.yml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.meltano_values import env_var_name

if TYPE_CHECKING:
    from runner.meltano_project import Plugin

__all__ = ["dotenv_names", "extra_vars", "flat_keys", "setting_vars"]

_EXTRAS = ("select", "metadata", "schema", "catalog", "state", "select_filter", "load_schema",
           "use_cached_catalog")


def dotenv_names(root: Path) -> frozenset[str]:
    """The variable names the project's .env file sets. Its values are never read."""
    path = root / ".env"
    if not path.is_file():
        return frozenset()
    names = set()
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if match:
            names.add(match.group(1))
    return frozenset(names)


def flat_keys(config: Any, prefix: str = "") -> list[str]:
    """The settings Meltano makes of a config mapping: every key, nested mappings' keys dotted."""
    if not isinstance(config, dict):
        return []
    out: list[str] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        out += flat_keys(value, f"{name}.") if isinstance(value, dict) and value else [name]
    return out


def _prefixes(plugin: Plugin, own: dict[str, Any]) -> list[str]:
    """The plugin's name and namespace: what Meltano puts before a setting's variable name."""
    if own.get("namespace"):
        namespace = own["namespace"]
    elif own.get("inherit_from"):
        namespace = plugin.name.replace("-", "_")
    else:
        namespace = plugin.get("namespace")
    return list(dict.fromkeys(str(p) for p in (plugin.name, namespace) if p))


def setting_vars(plugin: Plugin, own: dict[str, Any], inherited: dict[str, str],
                 names: frozenset[str]) -> dict[str, str]:
    """Setting -> the .env variable Meltano reads it from, for the settings .env sets.

    ``own`` is the plugin's own entry (with its environment's overlay), ``inherited`` the map of its
    parent: a parent's variable counts for the settings the plugin does not set itself."""
    if not names:
        return {}
    settings = [*plugin.settings(), *flat_keys(plugin.data.get("config"))]
    out: dict[str, str] = {}
    for setting in dict.fromkeys(s for s in settings if not s.startswith("_")):
        found = [var for prefix in _prefixes(plugin, own) if (var := env_var_name(prefix, setting)) in names]
        if found:
            out[setting] = found[0]
    own_keys = set(flat_keys(own.get("config")))
    for setting, var in inherited.items():
        if setting not in out and setting not in own_keys:
            out[setting] = var
    return out


def extra_vars(plugin: Plugin, own: dict[str, Any], names: frozenset[str]) -> list[str]:
    """The .env variables that set an extra of the plugin (``TAP_X__SELECT``, ``TAP_X__METADATA_...``)."""
    out = []
    for prefix in _prefixes(plugin, own):
        for extra in _EXTRAS:
            var = env_var_name(prefix, f"_{extra}")
            out += sorted(n for n in names if n == var or (extra in ("metadata", "schema") and n.startswith(var + "_")))
    return list(dict.fromkeys(out))
