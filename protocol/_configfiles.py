"""The light half of the config module: reading a JSON file and finding a config's secret values.
The runner needs both on every run, before its connectors start, without what the rest of the
config module imports (logging, the settings checks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from protocol._errors import ConfigError

__all__ = ["read_json_file", "secret_values"]


def read_json_file(path: str | os.PathLike[str], what: str, *, exact: bool = False) -> Any:
    """The JSON document of a file (``{}`` for an empty one); ConfigError naming ``what`` when it
    cannot be read. ``exact``: a number a float would round (16 or more digits) is read exactly,
    as a Decimal or int (a state's bookmarks: a numeric replication key must come back as emitted)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {p}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {p}: {exc.strerror}") from exc
    try:
        if not raw.strip():
            return {}
        if exact:
            from protocol._jsoncodec import loads

            return loads(raw)
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{what} file {p} is not valid JSON: {exc}") from exc


def secret_values(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The values of settings marked secret (``secret`` or ``writeOnly``), to scrub from any
    output: every string or number inside a secret setting, at any depth of the config (a
    stream's own password, each value of an ``api_keys`` map, ...)."""
    found: list[str] = []
    _secrets_in(config, schema, False, found)
    return list(dict.fromkeys(found))


def _secrets_in(value: Any, schema: Any, secret: bool, found: list[str]) -> None:
    schema = schema if isinstance(schema, Mapping) else {}
    secret = secret or bool(schema.get("secret") or schema.get("writeOnly"))
    if isinstance(value, Mapping):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            _secrets_in(item, props.get(key, extra), secret, found)
    elif isinstance(value, list):
        for item in value:
            _secrets_in(item, schema.get("items"), secret, found)
    elif secret and isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value):
        found.append(str(value))
