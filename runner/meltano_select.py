"""A Meltano extractor's ``select`` patterns and ``metadata`` extra as one ``metadata:`` block of sluice.yml.

Meltano lays these rules over the catalog, in this order, the last rule that sets a key winning:

1. ``!*.*``: every stream and property deselected;
2. the ``select`` patterns that include (``users``, ``users.*``, ``orders.id``), in their order;
3. the ``select`` patterns that exclude (``!users.email``), in their order;
4. the ``metadata`` extra (``users: {replication-key: updated_at, email: {selected: false}}``).

sluice.yml's ``metadata:`` block has the same semantics (stream globs, property globs, entries in file
order, last wins key by key), but it is a mapping: a stream glob is one key. Rules are gathered under
their glob while no rule written after that entry could be overridden by the move; when one could, the
rule starts a new entry under an equivalent spelling of the glob (``users`` as ``[u]sers``, ``*`` as
``**``), so the order Meltano applies is kept exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from protocol import REPLICATION_METHODS
from runner.catalog_metadata import flatten_metadata

__all__ = ["MetaRule", "invalid_value", "metadata_block", "metadata_rules", "select_rules"]

_GLOB = re.compile(r"[*?\[\]]")
_UNESCAPED_DOT = re.compile(r"(?<!\\)\.")


@dataclass(frozen=True)
class MetaRule:
    stream: str  # a glob of tap_stream_id
    path: tuple[str, ...]  # property names (globs); () for the stream itself
    key: str
    value: Any


def select_rules(patterns: list[str]) -> list[MetaRule]:
    """The rules Meltano makes of ``select`` patterns, preceded by its ``!*.*`` reset."""
    return _pattern_rules(["!*.*"]) + _pattern_rules(patterns)


def _pattern_rules(patterns: list[str]) -> list[MetaRule]:
    includes: list[MetaRule] = []
    excludes: list[MetaRule] = []
    for text in patterns:
        negated = text.startswith("!")
        raw = text[1:] if negated else text
        parts = _UNESCAPED_DOT.split(raw, maxsplit=1)
        stream = parts[0].replace(r"\.", ".")
        prop = parts[1] if len(parts) > 1 else ""
        selected = not negated
        out = includes if selected else excludes
        if not prop:  # a stream alone means the stream and all its properties
            out += [MetaRule(stream, (), "selected", selected), MetaRule(stream, ("*",), "selected", selected)]
            continue
        props = tuple(prop.split("."))
        if selected or prop == "*":
            out.append(MetaRule(stream, (), "selected", selected))
        out.append(MetaRule(stream, props, "selected", selected))
        if selected:  # the parents of a selected nested property are selected too
            out += [MetaRule(stream, props[:n], "selected", True) for n in range(1, len(props))]
    return includes + excludes


def metadata_rules(block: dict[str, Any]) -> list[MetaRule]:
    """The rules of Meltano's ``metadata`` extra, in its order (nested, dotted and breadcrumb forms)."""
    rules: list[MetaRule] = []
    for stream, entry in block.items():
        if not isinstance(entry, dict):
            continue  # reported by the caller
        for path, value in flatten_metadata(entry, []):
            *props, key = path
            rules.append(MetaRule(str(stream), _property_path(props), key, value))
    return rules


def invalid_value(rule: MetaRule) -> str | None:
    """Why sluice.yml's ``metadata:`` cannot hold the rule's value (Meltano passes any value to the tap,
    sluice checks the keys it knows): None when it can."""
    allowed: tuple[Any, ...] | None = None
    if rule.key == "replication-method":
        allowed = REPLICATION_METHODS
    elif rule.key == "inclusion":
        allowed = ("available", "automatic", "unsupported")
    elif rule.key == "selected":
        allowed = (True, False)
    if allowed is not None and (rule.value not in allowed or type(rule.value) is not type(allowed[0])):
        shown = ", ".join(str(a).lower() if isinstance(a, bool) else str(a) for a in allowed)
        return f"{rule.key} {rule.value!r} is not one of {shown}"
    if rule.key == "replication-key" and not (isinstance(rule.value, str) and rule.value):
        return f"replication-key {rule.value!r} is not a property name"
    return None


def _property_path(parts: list[str]) -> tuple[str, ...]:
    if parts and parts[0] == "properties":  # the breadcrumb form: properties.a.properties.b
        return tuple(parts[1::2])
    return tuple(parts)


def _overlap(a: str, b: str) -> bool:
    """Whether two globs can match one name (true unless shown otherwise)."""
    if a == b:
        return True
    if not _GLOB.search(a) and not _GLOB.search(b):
        return False
    if not _GLOB.search(a):
        return fnmatchcase(a, b)
    if not _GLOB.search(b):
        return fnmatchcase(b, a)
    return True


def _clash(a: MetaRule, b: MetaRule) -> bool:
    """Whether applying ``b`` after ``a`` can override what ``a`` set."""
    return (a.key == b.key and len(a.path) == len(b.path) and _overlap(a.stream, b.stream)
            and _overlap(".".join(a.path), ".".join(b.path)))


@dataclass
class _Entry:
    glob: str
    rules: list[MetaRule] = field(default_factory=list)

    def groups(self) -> list[tuple[str, ...]]:
        return list(dict.fromkeys(rule.path for rule in self.rules))

    def takes(self, rule: MetaRule) -> bool:
        """Whether ``rule`` can join this entry without being overtaken by a rule rendered after it."""
        groups = self.groups()
        if not rule.path or rule.path not in groups:
            return True
        later = set(groups[groups.index(rule.path) + 1:])
        return not any(_clash(rule, other) for other in self.rules if other.path in later)

    def render(self) -> dict[str, Any]:
        # the stream's own keys first: they never clash with a property's (another breadcrumb)
        out: dict[str, Any] = {rule.key: None for rule in self.rules if not rule.path}
        for rule in self.rules:
            if not rule.path:
                out[rule.key] = rule.value
            else:
                name = ".".join(rule.path)
                if not isinstance(out.get(name, {}), dict):  # a property named like a metadata key
                    name = "properties." + ".properties.".join(rule.path)
                out.setdefault(name, {})[rule.key] = rule.value
        return out


def _spelling(glob: str, used: set[str]) -> str:
    """``glob``, or a spelling of it that matches the same names and is not in ``used``."""
    if glob not in used:
        return glob
    if "[" not in glob:
        for i, char in enumerate(glob):
            if not _GLOB.match(char):
                candidate = f"{glob[:i]}[{char}]{glob[i + 1:]}"
                if candidate not in used:
                    return candidate
    candidate = glob
    while "*" in glob and candidate in used:
        candidate = candidate.replace("*", "**", 1)
    if candidate in used:
        raise ValueError(f"no other spelling of the stream glob {glob!r}")
    return candidate


def metadata_block(rules: list[MetaRule]) -> tuple[dict[str, Any], list[str]]:
    """The ``metadata:`` block that applies ``rules`` in order; and the globs spelt differently to keep it."""
    entries: list[_Entry] = []
    for rule in rules:
        home = next((i for i in range(len(entries) - 1, -1, -1) if entries[i].glob == rule.stream), None)
        if home is not None and entries[home].takes(rule) and not any(
                _clash(rule, other) for entry in entries[home + 1:] for other in entry.rules):
            entries[home].rules.append(rule)
        else:
            entries.append(_Entry(rule.stream, [rule]))
    block: dict[str, Any] = {}
    respelt: list[str] = []
    for entry in entries:
        key = _spelling(entry.glob, set(block))
        if key != entry.glob:
            respelt.append(f"{entry.glob!r} as {key!r}")
        block[key] = entry.render()
    return block, respelt
