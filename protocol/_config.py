"""Connector configuration: files and ``ENV`` merged left to right, validated once.

The settings JSON Schema is the single description of a connector's config: it is what
``--about`` publishes, what validation checks, and where ``secret: true`` marks values
that must never reach a log line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from protocol._configfiles import read_json_file, secret_values
from protocol._errors import ConfigError
from protocol._settings_check import report_unknown

if TYPE_CHECKING:
    import jsonschema

__all__ = ["EXACT", "RedactingFilter", "env_prefix", "load_config", "read_json_file"]

#: a settings schema keyword: this setting's numbers are read exactly (a config passed on to another program)
EXACT = "x-sluice-exact"

REDACTED = "********"


def env_prefix(connector_name: str) -> str:
    """``tap-csv`` reads ``TAP_CSV_<SETTING>`` variables."""
    return connector_name.upper().replace("-", "_") + "_"


def _coerce_env(name: str, raw: str, prop: Mapping[str, Any]) -> Any:
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    if "array" in types or "object" in types:
        if raw.lstrip().startswith(("[", "{")):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"environment variable {name} is not valid JSON: {exc}") from exc
        if "array" in types:
            return [part.strip() for part in raw.split(",") if part.strip()]
    if "boolean" in types:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
    if "integer" in types:
        try:
            return int(raw)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(raw)
        except ValueError:
            pass
    return raw


def _from_env(prefix: str, schema: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, prop in (schema.get("properties") or {}).items():
        name = prefix + key.upper().replace("-", "_")
        if name in environ:
            out[key] = _coerce_env(name, environ[name], prop)
    return out


def _apply_defaults(config: dict[str, Any], schema: Mapping[str, Any]) -> None:
    for key, prop in (schema.get("properties") or {}).items():
        if key not in config and isinstance(prop, Mapping) and "default" in prop:
            config[key] = prop["default"]


def _describe(error: jsonschema.ValidationError, secrets: Sequence[str]) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    message = error.message
    for secret in secrets:
        message = message.replace(secret, REDACTED)
    return f"setting '{where}': {message}" if where else message


def load_config(
    sources: Iterable[str],
    *,
    connector_name: str,
    settings_schema: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge config sources left to right, apply defaults, validate, and list every problem."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    # settings read exactly (EXACT: a number of 16 digits or more stays an int or a Decimal), the others as
    # floats as always (a setting a connector computes with: a Decimal would not mix with its floats)
    exact = [key for key, sub in (settings_schema.get("properties") or {}).items()
             if isinstance(sub, Mapping) and sub.get(EXACT)]
    for source in sources:
        if source == "ENV":
            config.update(_from_env(env_prefix(connector_name), settings_schema, environ))
            continue
        data = read_json_file(source, "config")
        if not isinstance(data, dict):
            raise ConfigError(f"config file {source} must hold a JSON object")
        if exact and any(key in data for key in exact):  # passed on to another program: its digits as written
            digits = read_json_file(source, "config", exact=True)
            data.update({key: digits[key] for key in exact if key in data})
        config.update(data)
    unknown = report_unknown(config, settings_schema, connector_name,
                             strict=config.get("strict_settings") is True)
    _apply_defaults(config, settings_schema)
    problems = _validate(config, settings_schema)
    if problems or unknown:
        raise ConfigError("invalid config", [*problems, *unknown])
    return config


def _validate(config: dict[str, Any], settings_schema: Mapping[str, Any]) -> list[str]:
    """Every schema problem of ``config``, sorted; an unknown key the schema forbids is left
    to :func:`report_unknown`, which names it with a did-you-mean."""
    import fastjsonschema

    try:  # the quick check (~15 ms to compile) for the common case of a valid config
        fastjsonschema.validate(dict(settings_schema), config, use_default=False)
        return []
    except fastjsonschema.JsonSchemaValueException as exc:
        where = (exc.name or "data").removeprefix("data").lstrip(".")
        quick = f"setting '{where}': {exc.message}" if where else exc.message
    import jsonschema  # ~45 ms to import: only to list every problem of an invalid config

    validator = jsonschema.Draft7Validator(settings_schema)
    secrets = secret_values(config, settings_schema)
    errors = list(validator.iter_errors(config))
    problems = sorted(_describe(e, secrets) for e in errors if e.validator != "additionalProperties")
    if not errors:  # fastjsonschema is stricter on a format: report what it said
        for secret in secrets:
            quick = quick.replace(secret, REDACTED)
        problems = [quick]
    return problems


class RedactingFilter(logging.Filter):
    """Replaces secret values in every log record with asterisks."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # the longest first: a secret inside a longer one, replaced first, left the rest of that one readable
        self.secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self._redact(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:  # a traceback quotes values too (a failing call's)
                record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            if record.exc_text:
                record.exc_text = self._redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self._redact(record.stack_info)
        return True

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text
