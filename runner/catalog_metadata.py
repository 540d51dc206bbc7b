"""A tap's ``metadata:`` block of ``sluice.yml``, laid over its catalog as Meltano's ``metadata`` extra is.

The block maps a stream glob (``fnmatch`` on ``tap_stream_id``) to Singer metadata::

    metadata:
      "public-*":
        selected: false
      public-orders:
        selected: true
        replication-method: INCREMENTAL
        replication-key: updated_at
        email: {selected: false}          # a property: any mapping under the stream
        properties.address.properties.zip: {selected: false}

A scalar (or list) value sets that key on the stream's breadcrumb; a mapping names a property
(``col``, ``col.sub``, or the breadcrumb form ``properties.col``; property names are globs too,
matched as Meltano matches them: a ``*`` reaches nested properties as well).
Entries apply in file order and the last one that sets a key wins, as in Meltano: put broad
globs first. ``replication-method`` / ``replication-key`` also set the catalog's legacy
top-level ``replication_method`` / ``replication_key`` so no reader sees two answers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from protocol import REPLICATION_METHODS, Breadcrumb, ConfigError, Metadata
from runner.catalog_select import field_paths, replication_of

__all__ = ["MetadataRule", "apply_metadata", "flatten_metadata", "metadata_rules"]

_LEGACY = {"replication-method": "replication_method", "replication-key": "replication_key"}


@dataclass(frozen=True, eq=False)  # hashed by identity: values may be lists
class MetadataRule:
    stream: str  # a glob of tap_stream_id
    breadcrumb: Breadcrumb  # () for the stream; property names may be globs
    key: str
    value: Any
    alternative: Breadcrumb | None = None  # the other reading of ``properties.x``: property "properties", child x

    @property
    def where(self) -> str:
        return ".".join((self.stream, *self.breadcrumb[1::2], self.key))

    def matches_stream(self, tap_stream_id: str) -> bool:
        return fnmatchcase(tap_stream_id, self.stream)

    def matches_crumb(self, crumb: Breadcrumb) -> bool:
        return _matches(crumb, self.breadcrumb)


def _matches(crumb: Breadcrumb, pattern: Breadcrumb) -> bool:
    """Meltano's match: the dotted breadcrumb against the dotted glob, so a ``*`` reaches nested
    properties too (``properties.*`` covers ``properties.address.properties.zip``)."""
    return bool(pattern) == bool(crumb) and fnmatchcase(".".join(crumb), ".".join(pattern))


def _property_crumbs(parts: list[str]) -> tuple[Breadcrumb, Breadcrumb | None]:
    """The breadcrumb of a property path, and its other reading where there is one. ``properties.col``
    may be the breadcrumb form (property ``col``) or the path of a property named ``properties``
    (common in event data) and its child ``col``: the breadcrumb form first, the other where it matches
    no property of a stream. ``properties`` alone (an odd length) is only a property's name."""
    named = tuple(crumb for part in parts for crumb in ("properties", part))
    if parts and len(parts) % 2 == 0 and all(part == "properties" for part in parts[0::2]):
        return tuple(parts), named
    return named, None


def flatten_metadata(value: Any, prefix: list[str]) -> list[tuple[list[str], Any]]:
    """A nested metadata mapping as (key path, value) pairs; dotted keys are split into path parts."""
    if not isinstance(value, dict):
        return [(prefix, value)]
    out: list[tuple[list[str], Any]] = []
    for key, sub in value.items():
        out += flatten_metadata(sub, [*prefix, *str(key).split(".")])
    return out


def metadata_rules(block: dict[str, Any] | None) -> list[MetadataRule]:
    """The rules of a ``metadata:`` block, in file order."""
    rules: list[MetadataRule] = []
    for stream, entry in (block or {}).items():
        if not isinstance(entry, dict):
            raise ConfigError(f"metadata '{stream}': must be a mapping of metadata keys (replication-method: ...)")
        for path, value in flatten_metadata(entry, []):
            *props, key = path
            crumb, other = _property_crumbs(props)
            rule = MetadataRule(str(stream), crumb, key, value, other)
            if key == "replication-method" and value not in REPLICATION_METHODS:
                raise ConfigError(f"metadata '{rule.where}': {value!r} is not a replication method "
                                  f"({', '.join(REPLICATION_METHODS)})")
            rules.append(rule)
    return rules


def _apply_stream(stream: dict[str, Any], rules: list[MetadataRule], used: set[MetadataRule]) -> None:
    md = Metadata.from_list(stream.get("metadata") or [])
    crumbs = [crumb for _, crumb in field_paths(stream.get("schema") or {})]
    for rule in rules:
        if not rule.breadcrumb:
            md.set((), rule.key, rule.value)
            used.add(rule)
            if rule.key in _LEGACY:
                stream[_LEGACY[rule.key]] = rule.value
            continue
        hits = [crumb for crumb in crumbs if rule.matches_crumb(crumb)]
        if not hits and rule.alternative is not None:
            hits = [crumb for crumb in crumbs if _matches(crumb, rule.alternative)]
        for crumb in hits:
            md.set(crumb, rule.key, rule.value)
            used.add(rule)
    stream["metadata"] = md.to_list()


def apply_metadata(catalog: dict[str, Any], rules: list[MetadataRule],
                   where: str) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``catalog`` with the rules applied; and warnings for globs that matched nothing.

    Raises ConfigError when a selected stream's replication key is not one of its properties.
    ``where`` names the connector in messages (``connector 'tap-pg'``)."""
    out = copy.deepcopy(catalog)
    used: set[MetadataRule] = set()
    matched_streams: set[str] = set()
    problems: list[str] = []
    for stream in out.get("streams") or []:
        name = str(stream.get("tap_stream_id") or stream.get("stream"))
        mine = [r for r in rules if r.matches_stream(name)]
        matched_streams.update(r.stream for r in mine)
        if not mine:
            continue
        _apply_stream(stream, mine, used)
        problems += _replication_problems(name, stream, mine)
    if problems:
        raise ConfigError(f"{where}: metadata does not fit the catalog", problems)
    warnings = [f"{where}: metadata '{glob}' matches no stream" for glob in _unique(r.stream for r in rules)
                if glob not in matched_streams]
    warnings += [f"{where}: metadata '{where_}' matches no property" for where_ in _unique(
        r.where for r in rules if r.breadcrumb and r not in used and r.stream in matched_streams)]
    return out, warnings


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def _replication_problems(name: str, stream: dict[str, Any], rules: list[MetadataRule]) -> list[str]:
    md = Metadata.from_list(stream.get("metadata") or [])
    if not md.is_selected(()):
        return []
    method, key = replication_of(stream)
    props = (stream.get("schema") or {}).get("properties") or {}
    set_here = {r.key: r for r in rules if not r.breadcrumb and r.key in _LEGACY}
    problems = []
    if "replication-key" in set_here and key is not None and key not in props:
        shown = ", ".join(sorted(props)[:12]) or "none"
        problems.append(f"metadata '{set_here['replication-key'].stream}': replication-key {key!r} is not a "
                        f"property of stream '{name}' (properties: {shown})")
    if "replication-method" in set_here and method == "INCREMENTAL" and not key:
        problems.append(f"metadata '{set_here['replication-method'].stream}': stream '{name}' is INCREMENTAL "
                        f"but has no replication-key")
    return problems

