"""The four map settings, parsed and checked once: every problem is collected, then one ConfigError.

    stream_maps:          {stream: null | "__NULL__" | {property: expression | null, "__alias__": ...}}
    stream_map_config:    an object, the expressions' ``config``
    flattening_enabled:   boolean
    flattening_max_depth: integer (required when flattening is enabled)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol._errors import ConfigError
from protocol._wording import closest
from protocol.maps._expr import expression_problems

__all__ = ["NULL", "MapSpec", "MapsConfig", "StreamEntry", "parse_config"]

NULL = "__NULL__"
ELSE = "__else__"
ALIAS = "__alias__"
FILTER = "__filter__"
KEYS = "__key_properties__"
SOURCE = "__source__"
OPTIONS = (ALIAS, ELSE, FILTER, KEYS, SOURCE)
_UNSET: Any = object()


@dataclass(frozen=True)
class MapSpec:
    """One stream's map: a filter, property operations in order (None: drop the property)."""

    properties: tuple[tuple[str, str | None], ...]
    filter: str | None = None
    alias: str | None = None
    source: str | None = None
    key_properties: Any = _UNSET  # a list of names, None (no keys), or _UNSET (keep the stream's)
    keep_others: bool = True  # False with "__else__": null

    @property
    def sets_keys(self) -> bool:
        return self.key_properties is not _UNSET


@dataclass(frozen=True)
class StreamEntry:
    """One key of ``stream_maps``: the stream (or fnmatch pattern) it names, and its map (None: drop)."""

    key: str
    spec: MapSpec | None


@dataclass(frozen=True)
class MapsConfig:
    entries: tuple[StreamEntry, ...] = ()
    drop_others: bool = False  # "__else__": null at the top: streams no entry names are dropped
    map_config: dict[str, Any] = field(default_factory=dict)
    flatten_depth: int = 0  # 0: no flattening

    @property
    def active(self) -> bool:
        return bool(self.entries) or self.drop_others or self.flatten_depth > 0


def _is_null(value: Any) -> bool:
    return value is None or value == NULL


def parse_config(config: Any, *, program: str) -> MapsConfig:
    """The settings of ``config`` (a connector's whole config); ConfigError listing every problem."""
    problems: list[str] = []
    maps = config.get("stream_maps") or {}
    map_config = config.get("stream_map_config") or {}
    if not isinstance(maps, dict):
        problems.append(f"stream_maps must be an object, not {type(maps).__name__}")
        maps = {}
    if not isinstance(map_config, dict):
        problems.append(f"stream_map_config must be an object, not {type(map_config).__name__}")
        map_config = {}
    depth = _flattening(config, problems)
    drop_others = False
    entries: list[StreamEntry] = []
    for key, value in maps.items():
        where = f"stream_maps.{key}"
        if key == ELSE:
            if _is_null(value):
                drop_others = True
            else:
                problems.append(f"{where}: only null (or \"__NULL__\") is supported, to drop every other stream")
        elif key.startswith("__"):
            problems.append(f"{where}: unknown option {key!r} (a stream name cannot start with '__')")
        elif _is_null(value):
            entries.append(StreamEntry(key, None))
        elif isinstance(value, dict):
            entries.append(StreamEntry(key, _spec(where, value, problems)))
        else:
            problems.append(f"{where}: must be an object of property maps, or null to drop the stream, "
                            f"not {value!r}")
    if problems:
        raise ConfigError(f"{program}: invalid stream maps", problems)
    return MapsConfig(tuple(entries), drop_others, map_config, depth)


def _flattening(config: Any, problems: list[str]) -> int:
    enabled = config.get("flattening_enabled", False)
    depth = config.get("flattening_max_depth")
    if not isinstance(enabled, bool):
        problems.append(f"flattening_enabled must be true or false, not {enabled!r}")
        return 0
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        problems.append(f"flattening_max_depth must be a whole number of levels (0 or more), not {depth!r}")
        return 0
    if enabled and depth is None:
        problems.append("flattening_max_depth is required when flattening_enabled is true")
        return 0
    return depth if enabled and depth else 0


def _expression(where: str, value: Any, problems: list[str]) -> None:
    problems.extend(f"{where}: {problem}" for problem in expression_problems(value))


def _spec(where: str, value: dict[str, Any], problems: list[str]) -> MapSpec:
    options: dict[str, Any] = {}
    props: list[tuple[str, str | None]] = []
    for name, definition in value.items():
        here = f"{where}.{name}"
        if name in OPTIONS:
            options[name] = definition
        elif name.startswith("__") and name.endswith("__"):
            guess = closest(name, OPTIONS)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            problems.append(f"{here}: unknown option{hint}; options: {', '.join(OPTIONS)}")
        elif _is_null(definition):
            props.append((name, None))
        elif isinstance(definition, str):
            _expression(here, definition, problems)
            props.append((name, definition))
        else:
            problems.append(f"{here}: must be an expression string, or null to drop the property, not {definition!r}")
    return _options(where, options, tuple(props), problems)


def _options(where: str, options: dict[str, Any], props: tuple[tuple[str, str | None], ...],
             problems: list[str]) -> MapSpec:
    filter_ = options.get(FILTER)
    if filter_ is not None:
        _expression(f"{where}.{FILTER}", filter_, problems)
    alias = options.get(ALIAS)
    source = options.get(SOURCE)
    for name, text in ((ALIAS, alias), (SOURCE, source)):
        if text is not None and (not isinstance(text, str) or not text):
            problems.append(f"{where}.{name}: must be a stream name, not {text!r}")
    if alias is not None and source is not None:
        problems.append(f"{where}: {ALIAS} and {SOURCE} together: a {SOURCE} copy is named by its key")
    keys = options.get(KEYS, _UNSET)
    if keys is not _UNSET and keys is not None and (
            not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
        problems.append(f"{where}.{KEYS}: must be a list of property names, or null for none")
    keep_others = True
    if ELSE in options:
        if _is_null(options[ELSE]):
            keep_others = False
        else:
            problems.append(f"{where}.{ELSE}: only null (or \"__NULL__\") is supported, to drop the other properties")
    return MapSpec(props, filter_ if isinstance(filter_, str) else None,
                   alias if isinstance(alias, str) else None, source if isinstance(source, str) else None,
                   keys, keep_others)
