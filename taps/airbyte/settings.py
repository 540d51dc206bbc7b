"""tap-airbyte's settings: their schema and the frozen object the tap reads them from.

``airbyte_config`` is the source's own config, passed through as it is (the name Meltano Hub's
tap-airbyte wrapper uses); ``--about`` shows the source's connection schema inside it when the
executable is known (:func:`with_source_spec`).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from protocol import ConfigError, build_settings, setting

__all__ = ["SETTINGS", "AirbyteSettings", "with_source_spec"]

SETTINGS: dict[str, Any] = {
    "type": "object",
    "required": ["executable"],
    "properties": {
        "executable": {
            "type": "string", "minLength": 1,
            "description": "The Airbyte source program: a command on PATH (source-faker) or a path to it, such as "
                           "the one a venv of its package installs (.venvs/source-faker/bin/source-faker).",
        },
        "executable_args": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Arguments put before the Airbyte command (spec, check, discover, read): for example "
                           "the script, when executable is an interpreter.",
        },
        "airbyte_config": {
            "type": "object", "default": {}, "x-sluice-exact": True,  # passed on with its numbers as written
            "description": "The source's config, passed to it as its config file. Its schema is the source's "
                           "connection specification: `tap-airbyte --about --config CONFIG` shows it once "
                           "executable is set. The values the source's spec marks airbyte_secret (the spec is "
                           "asked for once per program version and kept in $XDG_CACHE_HOME/sluice/airbyte-specs) "
                           "and those of its keys named like secrets (password, secret, token, api key, private "
                           "key, credentials, auth...; at any depth, everything under such a key; six characters "
                           "or more) never appear in tap-airbyte's logs, the source's LOG messages and its "
                           "stderr (relayed as log lines) included.",
        },
        "env": {
            "type": "object", "additionalProperties": {"type": "string"}, "default": {},
            "description": "Environment variables set for the source program, over tap-airbyte's own.",
        },
        "stop_timeout": {
            "type": "number", "minimum": 0, "default": 10,
            "description": "Seconds the source is given to exit after SIGTERM (when tap-airbyte stops early) "
                           "before it is killed.",
        },
    },
}


@dataclass(frozen=True)
class AirbyteSettings:
    """Everything tap-airbyte reads from its config."""

    executable: str  # as found: an absolute path
    executable_args: tuple[str, ...]
    airbyte_config: Mapping[str, Any]
    env: Mapping[str, str]
    stop_timeout: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AirbyteSettings:
        name = setting(SETTINGS, config, "executable")
        found = resolve_executable(name, setting(SETTINGS, config, "env") or {})
        return build_settings(cls, SETTINGS, config, executable=found,
                              airbyte_config=MappingProxyType(copy.deepcopy(setting(SETTINGS, config,
                                                                                    "airbyte_config"))),
                              env=MappingProxyType(dict(setting(SETTINGS, config, "env"))))

    @property
    def command(self) -> list[str]:
        return [self.executable, *self.executable_args]

    @property
    def source_name(self) -> str:
        """The source's name in messages: its program's, or its script's when it runs under an interpreter."""
        return os.path.basename(self.command[-1] if self.executable_args else self.executable)


def resolve_executable(name: str, env: Mapping[str, str]) -> str:
    """The absolute path of the source program (a name is looked up on PATH)."""
    path = env.get("PATH") or os.environ.get("PATH")
    found = shutil.which(name, path=path) if os.sep not in name else (name if os.access(name, os.X_OK) else None)
    if found is None:
        where = "is not an executable file" if os.sep in name else "is not found on PATH"
        raise ConfigError(f"setting 'executable': {name} {where}; install the Airbyte source (for example "
                          "`sluice install` or `uv venv` and `uv pip install airbyte-source-NAME`) and give "
                          "its program")
    return os.path.abspath(found)


def with_source_spec(schema: Mapping[str, Any], source_spec: Mapping[str, Any] | None, note: str) -> dict[str, Any]:
    """The settings schema with ``airbyte_config`` described by the source's connection
    specification (``source_spec``), or, without it, by ``note`` saying why it is not there."""
    out = copy.deepcopy(dict(schema))
    prop = out["properties"]["airbyte_config"]
    if source_spec is None:
        prop["description"] = f"{prop['description']} ({note})"
        return out
    connection = source_spec.get("connectionSpecification") or {}
    for key in ("properties", "required", "additionalProperties"):
        if key in connection:
            prop[key] = copy.deepcopy(connection[key])
    title = connection.get("title")
    prop["description"] = f"The config of {title or 'the source'}: {note}." if note else prop["description"]
    if source_spec.get("documentationUrl"):
        prop["description"] += f" Documentation: {source_spec['documentationUrl']}"
    _mark_secrets(prop)
    return out


# Key names Airbyte sources give their secret settings (matched anywhere in the name, any case).
_SECRET_NAME = re.compile(r"pass|secret|token|api_?key|private_?key|credential|auth|"
                          r"access_?key|session|cookie|signature|dsn|connection_?string|jwt|bearer", re.IGNORECASE)

# Shorter values under such names are mostly choices ("none", "oauth2"), which redaction would cut out
# of every log line that holds the word.
_SHORTEST = 6


def secret_like_values(value: Any, *, inside: bool = False) -> list[str]:
    """The scalar values of ``airbyte_config`` under keys named like secrets (``_SECRET_NAME``), at any
    depth: what a run keeps out of its logs besides what the source's spec marks ``airbyte_secret``
    (specs.py), and all it has when the source gives no spec."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found += secret_like_values(item, inside=inside or bool(_SECRET_NAME.search(str(key))))
    elif isinstance(value, list):
        for item in value:
            found += secret_like_values(item, inside=inside)
    elif inside and isinstance(value, (str, int, float)) and not isinstance(value, bool) and \
            len(str(value)) >= _SHORTEST:
        found.append(str(value))
    return found


def _mark_secrets(schema: Any) -> None:
    """Airbyte marks a secret field ``airbyte_secret``; ours is ``secret`` (kept out of logs and --about)."""
    if isinstance(schema, dict):
        if schema.get("airbyte_secret"):
            schema["secret"] = True
        for value in schema.values():
            _mark_secrets(value)
    elif isinstance(schema, list):
        for value in schema:
            _mark_secrets(value)
