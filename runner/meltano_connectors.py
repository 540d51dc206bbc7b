"""A Meltano extractor or loader as a connector of sluice.yml (``sluice import``).

Kept: ``name``; ``executable`` (Meltano's default, the plugin's name, when it names none); ``pip_url``
(local paths rebased on the new file's directory) and ``python``; ``config`` (with the defaults
``settings:`` declares, and ``${VAR}`` for each setting Meltano would read from a variable of the
``.env`` file, over meltano.yml's value as in Meltano: only the names of ``.env`` are read, never a
value, runner.meltano_dotenv); ``select`` and ``metadata`` as one ``metadata:`` block
(runner.meltano_select), only when the extractor takes a catalog, as Meltano applies them, less the
values sluice.yml cannot hold (reported); the ``catalog`` extra; ``env``. Secrets become references
(runner.meltano_values) and their top-level settings are listed in ``secrets:``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from runner.meltano_project import Plugin, deep_merge
from runner.meltano_report import Report
from runner.meltano_select import invalid_value, metadata_block, metadata_rules, select_rules
from runner.meltano_values import Refs, convert_refs, env_var_name, holds_credential, is_secret_name, literal_part

__all__ = ["Context", "connector"]

_URL_USER = re.compile(r"://([^/@\s]+)@")  # the user part of a URL: a token, in git+https://TOKEN@host/...
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# keys of a plugin that describe it for Meltano and Meltano Hub: nothing for sluice to do with them
_DESCRIPTIVE = {"name", "inherit_from", "variant", "namespace", "label", "logo_url", "description", "docs",
                "repo", "capabilities", "settings_group_validation", "settings", "hidden", "maintenance_status",
                "keywords", "domain_url", "quality", "ext_repo", "supported_python_versions", "requires",
                "plugin_type", "definition", "pip_url", "executable", "python", "config", "select", "metadata",
                "env", "catalog"}
_UNCONVERTED = {"schema": "catalog schema overrides have no sluice.yml equivalent",
                "select_filter": "sluice has no run-time stream filter",
                "state": "a state file extra: set bookmarks with `sluice state set PIPELINE @FILE`",
                "load_schema": "sluice does not pass MELTANO_EXTRACT__LOAD_SCHEMA to loaders",
                "target_schema": "Meltano-only extra (for transforms)",
                "dialect": "Meltano-only extra (for transforms)",
                "commands": "plugin commands are Meltano's; run the program directly",
                "use_cached_catalog": "sluice discovers at every run unless catalog: is set"}


@dataclass
class Context:
    meltano_dir: Path
    out_dir: Path
    refs: Refs
    report: Report


def _rebase(token: str, ctx: Context) -> str:
    """A relative local path of meltano.yml (``catalogs/tap.json``, ``./bin/x``, ``-e taps/x``'s path),
    relative to the directory the new file is written to. A token that is no path is as it was: an
    option, a requirement (``tap-csv==1.2``: no ``/``), a URL, a ``${VAR}`` reference, an absolute path.
    Only ``./`` and ``../`` were rebased: Meltano's usual ``catalogs/tap.json`` pointed beside the new file."""
    # a VCS requirement (git+https://..., git+git@host:...) has "://" or "@": no prefix list needed
    if (ctx.meltano_dir == ctx.out_dir or token.startswith(("-", "${", "/", "~"))
            or "://" in token or "@" in token or ":" in token.split("/", 1)[0]):
        return token
    if "/" not in token and token not in (".", ".."):
        return token
    return os.path.relpath(ctx.meltano_dir / token, ctx.out_dir)


def _pip_url(plugin: Plugin, ctx: Context) -> str | None:
    value = plugin.get("pip_url")
    if not value:
        if not plugin.get("executable") and plugin.get("variant"):
            ctx.report.notes.append(f"{plugin.name}: no pip_url in meltano.yml or a lock file; add the one "
                                    f"Meltano Hub lists for variant '{plugin.get('variant')}'")
        return None
    text = " ".join(str(value).split())
    if holds_credential(text) or any(user != "git" and literal_part(user) for user in _URL_USER.findall(text)):
        ctx.report.skip(f"{plugin.name}.pip_url", "it carries a credential; write it with a ${VAR} reference "
                        "instead (or install from a private index configured for pip)")
        return None
    converted = convert_refs(text, ctx.refs, f"{plugin.name}.pip_url", secret=bool(_URL_USER.search(text)))
    if _ref_names(text):
        ctx.report.notes.append(f"{plugin.name}.pip_url uses environment variables: check that "
                                f"`sluice install` expands them")
    return " ".join(_rebase(tok, ctx) for tok in converted.split())


def _ref_names(text: str) -> list[str]:
    refs = Refs({})
    convert_refs(text, refs, "")
    return list(refs.used)


def _declared_secret(setting: dict[str, Any] | None) -> bool:
    if not setting:
        return False
    return setting.get("kind") in ("password", "oauth") or setting.get("sensitive") is True


def _has_literal(value: Any) -> bool:
    if isinstance(value, str):
        return bool(literal_part(value))
    if isinstance(value, dict):
        return any(_has_literal(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_literal(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _at(data: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _secret_ref(plugin: Plugin, path: list[str], value: Any, ctx: Context, where: str) -> str:
    """A reference to the variable Meltano reads the secret from: of the plugin the value was written in
    (an inherited value is the parent's setting)."""
    owner = plugin.name
    for name, data in plugin.ancestors:
        if value is not None and _at(data.get("config"), path) == value:
            owner = name
    var = env_var_name(owner, ".".join(path))
    ctx.report.need(var, f"secret of {owner} ({where}); its value in meltano.yml was not copied")
    return f"${{{var}}}"


def _value(plugin: Plugin, path: list[str], value: Any, ctx: Context, secret: bool,
           found: set[str]) -> Any:
    """A config value with references converted and secrets replaced; ``found`` gets secret top-level keys."""
    settings = plugin.settings()
    name = ".".join(path)
    secret = secret or (bool(path) and (_declared_secret(settings.get(name)) or is_secret_name(path[-1])))
    where = f"config.{name}"
    if secret and path:
        found.add(path[0])
    if isinstance(value, dict):
        return {k: _value(plugin, [*path, str(k)], v, ctx, secret, found) for k, v in value.items()}
    if isinstance(value, list) and not secret:
        return [_value(plugin, [*path, str(i)], v, ctx, secret, found) for i, v in enumerate(value)]
    if secret and _has_literal(value):
        return _secret_ref(plugin, path, value, ctx, where)
    if isinstance(value, str):
        if holds_credential(value):
            found.add(path[0])
            return _secret_ref(plugin, path, value, ctx, where)
        return convert_refs(value, ctx.refs, f"{plugin.name}.{where}", secret=secret)
    if isinstance(value, list):
        return [_value(plugin, [*path, str(i)], v, ctx, secret, found) for i, v in enumerate(value)]
    if isinstance(value, date | datetime):  # an unquoted YAML date: Meltano hands it on as text
        return value.isoformat()
    return value


def _set_path(config: dict[str, Any], dotted: str, value: Any, replace: bool = False) -> bool:
    node = config
    *parents, last = dotted.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return False
        node = child
    if last in node and not replace:
        return False
    node[last] = value
    return True


def _config(plugin: Plugin, ctx: Context) -> tuple[dict[str, Any], list[str]]:
    """The connector's config and the top-level settings that are secret."""
    declared_defaults: dict[str, Any] = {}
    for item in plugin.data.get("settings") or []:  # meltano.yml's own declarations (not the lock file's)
        if isinstance(item, dict) and "value" in item and isinstance(item.get("name"), str):
            _set_path(declared_defaults, item["name"], item["value"])
    raw = deep_merge(declared_defaults, plugin.get("config") or {})
    _dotenv(plugin, raw, ctx)
    found: set[str] = set()
    config = {str(k): _value(plugin, [str(k)], v, ctx, False, found) for k, v in raw.items()}
    return config, sorted(found)


def _dotenv(plugin: Plugin, raw: dict[str, Any], ctx: Context) -> None:
    """The settings Meltano reads from .env, over meltano.yml's values: ``${VAR}`` in ``raw``."""
    for name, var in plugin.dotenv.items():
        over = _at(raw, name.split(".")) is not None
        if not _set_path(raw, name, f"${{{var}}}", replace=True):
            ctx.report.skip(f"{plugin.name}.config.{name}", f".env sets it ({var}) but meltano.yml's config "
                            f"holds a value that is not a mapping on its path")
            continue
        ctx.report.need(var, f"{plugin.name} setting {name}, which Meltano reads from .env"
                        + (" over the value in meltano.yml" if over else "")
                        + " (sluice reads the .env beside sluice.yml)")
    for var in plugin.dotenv_extras:
        ctx.report.skip(f"{plugin.name}: .env sets {var}", "a Meltano extra set from the environment is not "
                        "converted; write it in the connector's metadata: (select, metadata) or catalog:")


def _takes_catalog(plugin: Plugin) -> bool:
    capabilities = plugin.get("capabilities")
    if capabilities is None:  # unknown: a Hub plugin is assumed to, a custom one (Meltano's default) not
        return bool(plugin.get("variant"))
    return bool({"catalog", "properties"} & set(capabilities))


def _metadata(plugin: Plugin, ctx: Context) -> dict[str, Any] | None:
    select = plugin.get("select")
    metadata = plugin.get("metadata") or {}
    if plugin.get("catalog"):
        if select or metadata:
            ctx.report.skip(f"{plugin.name}.select/metadata", "the plugin names a catalog file, over which Meltano "
                            "applies neither")
        return None
    if not _takes_catalog(plugin):
        if select or metadata:
            ctx.report.skip(f"{plugin.name}.select/metadata", "its capabilities name neither catalog nor "
                            "properties, so Meltano does not apply them either")
        return None
    if not isinstance(metadata, dict):
        ctx.report.skip(f"{plugin.name}.metadata", "not a mapping of stream globs")
        metadata = {}
    for stream, entry in metadata.items():
        if not isinstance(entry, dict):
            ctx.report.skip(f"{plugin.name}.metadata.{stream}", "not a mapping of metadata keys")
    patterns = [str(p) for p in (select if isinstance(select, list) else ["*.*"])]
    rules = []
    for rule in metadata_rules(metadata):
        problem = invalid_value(rule)
        if problem:
            where = ".".join((rule.stream, *rule.path, rule.key))
            ctx.report.skip(f"{plugin.name}.metadata.{where}", f"{problem} (Meltano hands it to the tap as "
                            f"written; sluice.yml takes only these): the rule is left out")
        else:
            rules.append(rule)
    block, respelt = metadata_block(select_rules(patterns) + rules)
    if respelt:
        ctx.report.notes.append(f"{plugin.name}.metadata: to keep Meltano's order of rules, a second entry "
                                f"spells {', '.join(respelt)} (the same streams)")
    return block


def _env(plugin: Plugin, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (plugin.get("env") or {}).items():
        name, where = str(key), f"{plugin.name}.env.{key}"
        secret = is_secret_name(name)
        if not _ENV_NAME.match(name):
            ctx.report.skip(where, "not a variable name sluice.yml can hold (letters, digits, '_')")
        elif isinstance(value, str) and (secret or holds_credential(value)) and literal_part(value):
            ctx.report.need(name, f"secret in env: of {plugin.name} ({where}); its value in meltano.yml was "
                            f"not copied")
            out[name] = f"${{{name}}}"
        elif isinstance(value, str):
            out[name] = convert_refs(value, ctx.refs, where, secret=secret or holds_credential(value))
        elif isinstance(value, bool | int | float) and secret:
            ctx.report.need(name, f"secret in env: of {plugin.name} ({where}); its value in meltano.yml was "
                            f"not copied")
            out[name] = f"${{{name}}}"
        elif isinstance(value, bool | int | float):
            out[name] = value
        elif isinstance(value, date | datetime):
            out[name] = value.isoformat()
        else:
            ctx.report.skip(where, "not text, a number or a boolean: Meltano passes no such variable")
    return out


def connector(plugin: Plugin, ctx: Context) -> dict[str, Any]:
    """The sluice.yml connector of a Meltano extractor or loader."""
    out: dict[str, Any] = {"name": plugin.name}
    executable = str(plugin.get("executable") or plugin.base)
    out["executable"] = _rebase(executable, ctx) if "/" in executable else executable
    pip_url = _pip_url(plugin, ctx)
    if pip_url:
        out["pip_url"] = pip_url
    if plugin.get("python"):
        out["python"] = str(plugin.get("python"))
    config, secrets = _config(plugin, ctx)
    if config:
        out["config"] = config
    if plugin.kind == "extractors":
        if plugin.get("catalog"):
            out["catalog"] = _rebase(convert_refs(str(plugin.get("catalog")), ctx.refs, f"{plugin.name}.catalog"),
                                     ctx)
        metadata = _metadata(plugin, ctx)
        if metadata:
            out["metadata"] = metadata
    env = _env(plugin, ctx)
    if env:
        out["env"] = env
    if secrets:
        out["secrets"] = secrets
    for key in plugin.data:
        if key in _UNCONVERTED and plugin.data[key] not in (None, [], {}):
            ctx.report.skip(f"{plugin.name}.{key}", _UNCONVERTED[key])
        elif key not in _DESCRIPTIVE and key not in _UNCONVERTED:
            ctx.report.skip(f"{plugin.name}.{key}", "not a key sluice import knows")
    return out
