"""``sluice select``: mark streams and fields selected in a catalog, as Meltano's select does.

Patterns are ``STREAM.FIELD`` with shell globs on both parts (``users.*``, ``*.id``,
``orders.address.city`` for a nested field); ``STREAM`` alone means every field of it; a
leading ``!`` excludes. The stream ends at the first dot not escaped, as in Meltano: a stream
whose id holds a dot is written with ``\\.`` (``public\\.users.*``). The patterns given are the
whole selection: a stream is selected when an include pattern matches it and no ``!STREAM`` /
``!STREAM.*`` excludes it; a field when an include pattern matches it (or a parent of it) and no
exclude pattern does. Include patterns that select no stream at all change nothing (an error).
Fields with ``inclusion: automatic`` (keys, replication keys) are always kept.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from protocol import Breadcrumb, ConfigError, Metadata

__all__ = ["Rule", "apply_selection", "describe_selection", "field_paths", "parse_patterns", "replication_of"]


@dataclass(frozen=True)
class Rule:
    exclude: bool
    stream: str
    field: str  # "*" when the pattern named only a stream
    text: str

    def matches_stream(self, stream: str) -> bool:
        return fnmatchcase(stream, self.stream)

    def matches_field(self, path: str) -> bool:
        """Matches the field or one of its parents (``a`` covers ``a.b``)."""
        parts = path.split(".")
        return any(fnmatchcase(".".join(parts[:n]), self.field) for n in range(1, len(parts) + 1))


def parse_patterns(patterns: list[str]) -> list[Rule]:
    rules = []
    for text in patterns:
        raw = text.strip()
        exclude = raw.startswith("!")
        if exclude:
            raw = raw[1:]
        cut = _STREAM_END.search(raw)
        stream, field = (raw[:cut.start()], raw[cut.end():]) if cut else (raw, "")
        stream = stream.replace("\\.", ".")
        if not stream:
            raise ConfigError(f"select pattern {text!r} names no stream (use STREAM.FIELD, globs, ! to exclude)")
        rules.append(Rule(exclude, stream, field or "*", text))
    return rules


_STREAM_END = re.compile(r"(?<!\\)\.")  # the first dot not escaped: public\.users.* is stream public.users


def field_paths(schema: dict[str, Any], prefix: Breadcrumb = ()) -> Iterator[tuple[str, Breadcrumb]]:
    """Every (dotted path, breadcrumb) of a schema's properties, nested objects included."""
    for name, prop in (schema.get("properties") or {}).items():
        crumb = (*prefix, "properties", name)
        yield ".".join(crumb[1::2]), crumb
        if isinstance(prop, dict) and isinstance(prop.get("properties"), dict):
            yield from field_paths(prop, crumb)


def apply_selection(catalog: dict[str, Any], patterns: list[str]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``catalog`` with the selection set; and warnings for patterns that matched nothing."""
    rules = parse_patterns(patterns)
    includes = [r for r in rules if not r.exclude]
    excludes = [r for r in rules if r.exclude]
    used: set[str] = set()
    out = copy.deepcopy(catalog)
    for stream in out.get("streams") or []:
        name = str(stream.get("tap_stream_id") or stream.get("stream"))
        md = Metadata.from_list(stream.get("metadata") or [])
        inc = [r for r in includes if r.matches_stream(name)]
        exc = [r for r in excludes if r.matches_stream(name)]
        whole_out = [r for r in exc if r.field == "*"]
        selected = bool(inc) and not whole_out
        used.update(r.text for r in inc + whole_out)
        md.set((), "selected", selected)
        if selected:
            chosen: set[Breadcrumb] = set()
            for path, crumb in field_paths(stream.get("schema") or {}):
                hit = [r for r in inc if r.matches_field(path)]
                miss = [r for r in exc if r.field != "*" and r.matches_field(path)]
                used.update(r.text for r in hit + miss)
                if hit and not miss:
                    chosen.add(crumb)
                    chosen.update(crumb[:n] for n in range(2, len(crumb), 2))  # parents of a chosen field
            for _, crumb in field_paths(stream.get("schema") or {}):
                md.set(crumb, "selected", crumb in chosen)
        stream["metadata"] = md.to_list()
    ids = [str(s.get("tap_stream_id") or s.get("stream")) for s in out.get("streams") or []]
    warnings = [f"pattern {r.text!r} matched nothing{_dotted_hint(r, ids)}" for r in rules if r.text not in used]
    if includes and not any(Metadata.from_list(s.get("metadata") or []).is_selected(()) for s in out["streams"]):
        raise ConfigError("no stream selected by the patterns: the catalog was not changed", warnings)
    return out, warnings


def _dotted_hint(rule: Rule, ids: list[str]) -> str:
    """For a pattern whose text starts with a stream id holding a dot: how to write that stream."""
    raw = rule.text.lstrip("!")
    for stream_id in ids:
        if "." in stream_id and (raw == stream_id or raw.startswith(stream_id + ".")):
            escaped = stream_id.replace(".", "\\.")
            return f" (stream ids end at the first dot: for stream '{stream_id}' write {escaped}{raw[len(stream_id):]})"
    return ""


def describe_selection(catalog: dict[str, Any]) -> list[str]:
    """One line per stream and field: ``[selected]``, ``[automatic]`` or ``[excluded]``; a stream's line
    ends with its replication when the catalog names one (``orders [selected] INCREMENTAL:updated_at``)."""
    lines = []
    for stream in catalog.get("streams") or []:
        name = str(stream.get("tap_stream_id") or stream.get("stream"))
        md = Metadata.from_list(stream.get("metadata") or [])
        method, key = replication_of(stream)
        how = f" {method or 'default'}{':' + key if key else ''}" if method or key else ""
        lines.append(f"{name} [{'selected' if md.is_selected(()) else 'excluded'}]{how}")
        for path, crumb in field_paths(stream.get("schema") or {}):
            if md.get(crumb, "inclusion") == "automatic":
                mark = "automatic"
            elif md.get(crumb, "inclusion") == "unsupported":
                mark = "unsupported"
            else:
                mark = "selected" if md.is_selected(crumb) else "excluded"
            lines.append(f"  {name}.{path} [{mark}]")
    return lines


def replication_of(stream: dict[str, Any]) -> tuple[str | None, str | None]:
    """The replication method and key a catalog stream entry names (metadata first, then legacy fields)."""
    md = Metadata.from_list(stream.get("metadata") or [])
    method = md.get((), "replication-method") or stream.get("replication_method") \
        or md.get((), "forced-replication-method")
    key = md.get((), "replication-key") or stream.get("replication_key")
    return method, key
