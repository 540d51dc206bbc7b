"""Unknown settings: a config key no settings schema declares is a typo until shown otherwise.

The walk follows the settings JSON Schema into nested objects and arrays of objects
(``files[0].delimeter``, ``streams[2].primary_key``, ``pagination.styel``). An object
schema that declares ``properties`` is *closed* for this check unless it says otherwise:

- ``additionalProperties`` (a schema or ``true``) or ``patternProperties``: extras are
  allowed there and nothing is reported (a per-column ``types`` map, a stream's own schema);
- ``additionalProperties: false``: an unknown key there is always an error (the schema
  itself forbids it); the check only adds the did-you-mean;
- an object schema without ``properties`` is free-form and never walked.

Each unknown key is one warning line with the closest known key at its level
(:func:`protocol._wording.closest`); under ``strict_settings: true`` they become one
configuration error listing them all (exit 2).

Keys that are not typos stay quiet at the top level (:data:`QUIET_SETTINGS`): the
settings singer-sdk adds to every plugin it builds, which Meltano Hub definitions declare
and Meltano writes into the config file whenever they hold a value (Meltano passes only
settings with a value, and never its own ``_``-prefixed extras). See docs/unknown-settings.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol._wording import closest

__all__ = [
    "FEATURE_SWITCHES",
    "KIT_SETTINGS",
    "MAP_SETTING_NAMES",
    "QUIET_SETTINGS",
    "RESERVED_SETTINGS",
    "TARGET_KIT_SETTINGS",
    "UnknownSetting",
    "report_unknown",
    "unknown_settings",
    "with_kit_settings",
]

log = logging.getLogger("sluice.config")

#: Settings every connector built on the kit accepts; merged into each settings schema.
KIT_SETTINGS: dict[str, dict[str, Any]] = {
    "strict_settings": {
        "type": "boolean",
        "default": False,
        "description": "Treat unknown settings (typos such as 'delimeter' for 'delimiter', at any depth) "
                       "as a configuration error (exit 2) instead of a warning.",
    },
}

#: Settings every target built on the kit accepts (read by protocol/_target.py and protocol/_lane.py);
#: a target that declares one itself (its own wording or default) keeps its own.
TARGET_KIT_SETTINGS: dict[str, dict[str, Any]] = {
    "batch_size_rows": {
        "type": "integer",
        "minimum": 1,
        "default": 100_000,
        "description": "Records per stream between commits when no STATE asks for one sooner.",
    },
    "state_flush_seconds": {
        "type": "number",
        "minimum": 0,
        "default": 1.0,
        "description": "A STATE is held at most this long before the records before it are committed and it is "
                       "emitted.",
    },
    "validate_records": {
        "type": "boolean",
        "default": True,
        "description": "Check every record against its stream's schema; a bad record stops the run with one "
                       "error line naming the line, the stream and the field.",
    },
    "map_workers": {
        "type": "integer",
        "minimum": 1,
        "description": ("Processes that apply stream maps and flattening to runs of records side by side (1: all "
                        "in this process). Default: one per CPU this process may use, at most 4, where the target "
                        "writes the records' text (target-jsonl, target-parquet); 1 where it loads their values "
                        "(the SQL targets). Workers start only with maps configured, after 1 MiB of records. The "
                        "result is the same: every record in input order, each STATE after the records before "
                        "it, the same error for the same bad record."),
    },
    "fast_path": {
        "type": "boolean",
        "default": True,
        "description": "Decode and validate runs of records in chunks where a stream's schema allows; false "
                       "reads every line on the reference path (the same result, slower), as SLUICE_FAST_PATH=0 in the "
                       "environment does. For troubleshooting.",
    },
}

#: singer-sdk's built-in plugin settings (singer_sdk/helpers/capabilities) the kit does not apply:
#: ``faker_config`` (the SDK's ``fake`` object in map expressions, which our maps do not offer)
#: and ``batch_config`` (our taps do not write BATCH messages). Reserved: accepted without a
#: warning about the key.
RESERVED_SETTINGS: frozenset[str] = frozenset({"faker_config", "batch_config"})

#: singer-sdk's stream-map and flattening settings. Every connector on the kit declares them
#: (:func:`with_kit_settings` adds ``protocol.maps.MAP_SETTINGS``) and applies them: taps before
#: writing, targets after reading. Quiet on a connector that does not declare them.
MAP_SETTING_NAMES: frozenset[str] = frozenset({
    "stream_maps", "stream_map_config", "flattening_enabled", "flattening_max_depth",
})

#: The map settings that switch mapping on: on a connector that does not declare them (one not
#: built on the kit's Tap or Target), a value there that is not empty or false is warned about
#: (records would otherwise pass unmapped or unflattened without a word).
FEATURE_SWITCHES: frozenset[str] = frozenset({"stream_maps", "flattening_enabled"})

#: Quiet where a connector does not declare them: the reserved keys above plus singer-sdk's
#: built-in target settings, which Hub definitions of SDK loaders carry (Meltano fills
#: ``default_target_schema`` from ``$MELTANO_EXTRACT__LOAD_SCHEMA`` for database loaders).
QUIET_SETTINGS: frozenset[str] = RESERVED_SETTINGS | MAP_SETTING_NAMES | {
    "default_target_schema", "activate_version", "add_record_metadata", "hard_delete",
    "validate_records", "batch_size_rows", "load_method",
}


@dataclass(frozen=True, slots=True)
class UnknownSetting:
    """A config key its schema does not declare, where it sits, and the likely intended key."""

    path: str
    suggestion: str | None
    forbidden: bool  # the schema says additionalProperties: false there

    def describe(self) -> str:
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"unknown setting '{self.path}'{hint}"


def with_kit_settings(schema: Mapping[str, Any], *, target: bool = False) -> dict[str, Any]:
    """``schema`` with the kit's own settings (and a target's) and the stream-map settings added to
    its top-level properties; a connector that declares one itself keeps its own."""
    from protocol.maps import MAP_SETTINGS

    properties = dict(schema.get("properties") or {})
    for key, prop in {**KIT_SETTINGS, **(TARGET_KIT_SETTINGS if target else {}), **MAP_SETTINGS}.items():
        properties.setdefault(key, prop)
    return {**schema, "properties": properties}


def _declared(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The properties an object schema declares (with those of its anyOf/oneOf/allOf members)."""
    found: dict[str, Any] | None = None
    props = schema.get("properties")
    if isinstance(props, Mapping):
        found = dict(props)
    for key in ("allOf", "anyOf", "oneOf"):
        for member in schema.get(key) or []:
            if isinstance(member, Mapping) and isinstance(member.get("properties"), Mapping):
                found = {**(found or {}), **member["properties"]}
    return found


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, schema: Any, path: str, out: list[UnknownSetting]) -> None:
    if not isinstance(schema, Mapping):
        return
    if isinstance(value, list):
        items = schema.get("items")
        for i, item in enumerate(value):
            _walk(item, items, f"{path}[{i}]", out)
        return
    if not isinstance(value, Mapping):
        return
    extra = schema.get("additionalProperties")
    declared = _declared(schema)
    if declared is None and extra is not False and not isinstance(extra, Mapping):
        return  # free-form: no properties, no rule for the keys
    declared = declared or {}
    closed = (extra is None or extra is False) and "patternProperties" not in schema
    for key, item in value.items():
        if key in declared:
            _walk(item, declared[key], _child(path, key), out)
        elif isinstance(extra, Mapping):  # a map: each value has the additionalProperties schema
            _walk(item, extra, _child(path, str(key)), out)
        elif closed and not (not path and key in QUIET_SETTINGS):
            out.append(UnknownSetting(_child(path, str(key)), closest(str(key), declared), extra is False))


def unknown_settings(config: Mapping[str, Any], schema: Mapping[str, Any],
                     *, nested: bool = True) -> list[UnknownSetting]:
    """Every key of ``config`` its settings schema does not declare, in config order.

    ``nested=False`` checks the top level only (the runner does so for connectors not built
    on this kit, whose nested objects may be open without saying so)."""
    out: list[UnknownSetting] = []
    top = {key: schema[key] for key in ("additionalProperties", "patternProperties") if key in schema}
    top["properties"] = {key: {} for key in schema.get("properties") or {}}  # known names, nothing below
    _walk(config, schema if nested else top, "", out)
    return out


def _asks_for_feature(value: Any) -> bool:
    return value not in (None, False, 0, "", {}, [])


def report_unknown(config: Mapping[str, Any], schema: Mapping[str, Any], connector_name: str,
                   *, strict: bool) -> list[str]:
    """Warn once per unknown key (and per reserved feature switched on), on stderr.

    Returns the problems that make the config invalid: every unknown key under ``strict``,
    else those the schema itself forbids. Nothing is logged for keys returned."""
    problems: list[str] = []
    for unknown in unknown_settings(config, schema):
        if strict or unknown.forbidden:
            problems.append(unknown.describe())
        else:
            log.warning("%s; it is ignored (set strict_settings to make this an error)", unknown.describe())
    declared = schema.get("properties") or {}
    for key in sorted(FEATURE_SWITCHES - set(declared)):
        if _asks_for_feature(config.get(key)):
            log.warning("setting '%s' is not declared by %s, which does not apply it; its value is ignored",
                        key, connector_name)
    return problems
