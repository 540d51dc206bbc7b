"""The JSON Schema of ``sluice.yml``."""

from __future__ import annotations

from typing import Any

from protocol import REPLICATION_METHODS

__all__ = ["PROJECT_SCHEMA"]

_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z", "maxLength": 100}
# five fields of cron's characters on one line (the values are checked by runner/ui/cron.py), or a macro;
# \Z, not $: "$" also matches before a final newline, which would end a crontab line
_CRON_FIELD = r"[0-9A-Za-z*/,-]+"
_CRON = rf"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly|reboot)|{_CRON_FIELD}([ \t]+{_CRON_FIELD}){{4}})\Z"

_METADATA_ENTRY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "replication-method": {"enum": list(REPLICATION_METHODS)},
        "replication-key": {"type": "string", "minLength": 1},
        "selected": {"type": "boolean"},
        "inclusion": {"enum": ["available", "automatic", "unsupported"]},
    },
    # any other Singer metadata key; a mapping is a property (col: {selected: false})
    "additionalProperties": {"if": {"type": "object"}, "then": {"$ref": "#/definitions/metadata_entry"}},
}

_CONNECTOR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "executable"],
    "properties": {
        "name": _NAME,
        "executable": {"type": "string", "minLength": 1, "description": "A program on PATH, or a path."},
        "pip_url": {
            "description": "What `sluice install` installs into the connector's own virtual environment: one or "
                           "more pip requirement specs, a git URL or a local path, separated by spaces (or a list).",
            "oneOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}],
        },
        "python": {"type": "string", "minLength": 1,
                   "description": "The interpreter the connector's environment is built with (default: the one "
                                  "running sluice)."},
        "args": {"type": "array", "items": {"type": "string"}, "description": "Arguments before the Singer flags."},
        "config": {
            "description": "Settings inline (an object), or the path of a JSON file. ${ENV} is interpolated.",
            "type": ["object", "string"],
        },
        "catalog": {"type": "string", "minLength": 1, "description": "Path of the catalog file (taps)."},
        "env": {
            "type": "object",
            "description": "Extra environment of the connector (besides PATH, HOME and LANG).",
            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*\Z"},
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "secrets": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Setting (or env: variable) names to treat as secret, besides those the connector marks "
                           "secret and env: variables named like credentials.",
        },
        "metadata": {
            "type": "object",
            "description": "Taps: Singer metadata by stream glob (replication-method, replication-key, selected, "
                           "col: {selected: false}), laid over the discovered (or catalog:) catalog at each run.",
            "additionalProperties": {"$ref": "#/definitions/metadata_entry"},
        },
        "limits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "memory_mb": {"type": "integer", "minimum": 16},
                "cpu_seconds": {"type": "integer", "minimum": 1},
            },
        },
    },
}

_MAP_STEP: dict[str, Any] = {
    "description": "A mapper run as a process between the tap and the target: the name of a connector of "
                   "`connectors:`, or a mapping naming it with settings laid over its own.",
    "type": ["string", "object"],
    "if": {"type": "string"},
    "then": {"minLength": 1},
    "else": {
        "additionalProperties": False,
        "required": ["mapper"],
        "properties": {
            "mapper": {"type": "string", "minLength": 1, "description": "The name of a connector."},
            "config": {"type": ["object", "string"],
                       "description": "Settings laid over the connector's own, key by key: inline (an object) "
                                      "or the path of a JSON file. ${ENV} is interpolated."},
        },
    },
}

_TENANT: dict[str, Any] = {
    "description": "A tenant record: its id, values for ${tenant.FIELD} (strings, numbers, booleans) and env:.",
    "properties": {
        "id": {"description": "Unique; lowercase letters, digits and '_', starting with a letter, at most 63 "
                              "characters. The tenant's pipeline is <pipeline>@<id>."},
        "env": {"description": "NAME -> the environment variable ${tenant.env.NAME} reads for this tenant "
                               "(default: <ID>_NAME, the id in capitals)."},
    },
}

_PIPELINE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "tap", "target"],
    "properties": {
        "name": _NAME,
        "tap": {"type": "string", "minLength": 1},
        "target": {"type": "string", "minLength": 1},
        "schedule": {"type": "string", "pattern": _CRON, "description": "A cron schedule (5 fields or @daily...)."},
        "state_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "enabled": {"type": "boolean", "description": "false: the pipeline is not run, listed by --all, scheduled "
                                                      "or given to an orchestrator (default true)."},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "description": "Seconds before the run is stopped."},
        "maps": {"type": "array", "items": _MAP_STEP,
                 "description": "Mappers between the tap and the target, in order: tap | m1 | m2 | target."},
        "for_each": {
            "description": "One pipeline per tenant, named <name>@<id>: the tenant records inline (a list), or the "
                           "path of a YAML or JSON file holding that list. ${tenant.FIELD} and ${tenant.env.NAME} in "
                           "the connectors' settings take each tenant's values (runner/tenants.py checks the records).",
            "type": ["string", "array"],
            "minLength": 1,
            "items": _TENANT,
        },
    },
}

_ENVIRONMENT: dict[str, Any] = {
    "description": "An overlay laid over the base project when this environment is chosen (docs/environments.md): "
                   "mappings merge key by key, other values replace, a list is replaced unless given as "
                   "{\"+\": [...]} (appended), null removes a key. The merged project is checked as a whole.",
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "state_store": {"type": "string", "minLength": 1, "description": "This environment's state store."},
        "lock_timeout_seconds": {"type": "number", "minimum": 1},
        "state_id_scope": {"enum": ["environment", "shared"],
                           "description": "environment (default): state ids get the prefix NAME:, so this "
                                          "environment's bookmarks are its own; shared: the base project's ids."},
        "env": {"type": "object", "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*\Z"},
                "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                "description": "Laid over the env: of every connector (this environment's connectors.X.env over it)."},
        "connectors": {"type": "object", "propertyNames": _NAME, "additionalProperties": {"type": ["object", "null"]},
                       "description": "By connector name: laid over that connector (a new name adds one; null "
                                      "removes it)."},
        "pipelines": {"type": "object", "propertyNames": _NAME, "additionalProperties": {"type": ["object", "null"]},
                      "description": "By pipeline name: laid over that pipeline (enabled:, schedule:, ...; a new name "
                                     "adds one; null removes it)."},
    },
}

PROJECT_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "sluice.yml",
    "definitions": {"metadata_entry": _METADATA_ENTRY},
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "state_store": {
            "type": "string",
            "minLength": 1,
            "description": "sqlite (default, .sluice/state.db), sqlite:PATH, or a postgresql:// URL.",
        },
        "lock_timeout_seconds": {
            "type": "number",
            "minimum": 1,
            "description": "PostgreSQL store: seconds after which a runner cut off from the store loses its "
                           "pipeline locks, so another host can take over (default 30).",
        },
        "secret_timeout_seconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "Seconds one secret reference may take: a ${cmd:...} command is stopped after it, "
                           "plugin providers are given it (default 10).",
        },
        "connectors": {"type": "array", "items": _CONNECTOR},
        "pipelines": {"type": "array", "items": _PIPELINE},
        "environments": {"type": "object", "propertyNames": _NAME, "additionalProperties": _ENVIRONMENT,
                         "description": "Named overlays; one is chosen by --environment, SLUICE_ENVIRONMENT or "
                                        "default_environment."},
        "default_environment": {"type": "string", "minLength": 1,
                                "description": "The environment used when neither --environment nor "
                                               "SLUICE_ENVIRONMENT names one."},
    },
}
