"""Safe, deterministic SQL identifiers for untrusted stream and field names.

Names are kept as they are (quoted, case preserved) when the database can hold them.
A name that is too long for the database is mapped to a prefix plus a short hash of the
whole name, so two long names that share a prefix never meet::

    "a" * 200   ->   "aaaa...aaaa_3f2a91c0"      (at most ``limit`` bytes)

The empty name (``""``, a legal JSON property name and stream name, but no identifier in
PostgreSQL) and a name holding NUL characters are mapped the same way, as the kept part
plus the hash of the whole name: ``""`` becomes ``_da39a3ee`` in every SQL target.

The mapping stays unambiguous: every mapped name ends in ``_`` and 8 hex digits and is
within 12 bytes of the limit (or is the empty name's ``_da39a3ee``), and a name given by
the user that has that very shape is mapped too, so a kept name can never equal a mapped one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = ["EMPTY_NAME", "HASH_LEN", "IdentifierMapper", "safe_identifier", "stable_hash"]

HASH_LEN = 8
_MAPPED_SHAPE = re.compile(r"_[0-9a-f]{8}\Z")


def stable_hash(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LEN]


#: the identifier of the empty name
EMPTY_NAME = "_" + stable_hash("")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _truncate_utf8(name: str, max_bytes: int) -> str:
    raw = name.encode("utf-8", "surrogatepass")[:max_bytes]
    return raw.decode("utf-8", "ignore")


def safe_identifier(name: str, limit: int | None) -> str:
    """The identifier for ``name`` under a byte limit (``None``: no limit)."""
    clean = name.replace("\x00", "")
    unsafe = clean != name or not clean or name == EMPTY_NAME
    if limit is None:
        return f"{clean}_{stable_hash(name)}" if unsafe else name
    size = len(name.encode("utf-8", "surrogatepass"))
    looks_mapped = size >= limit - HASH_LEN - 4 and _MAPPED_SHAPE.search(name) is not None
    if size <= limit and not looks_mapped and not unsafe:
        return name
    return f"{_truncate_utf8(clean, limit - HASH_LEN - 1)}_{stable_hash(name)}"


class IdentifierMapper:
    """Maps the field names of one table to column names.

    ``case_insensitive`` databases (SQLite) treat ``Id`` and ``id`` as one column: when
    two names of a table differ only by case, those that are not all lower case get the
    hash suffix, so the mapping depends only on the set of names, not their order.
    """

    def __init__(self, limit: int | None, *, case_insensitive: bool = False) -> None:
        self.limit = limit
        self.case_insensitive = case_insensitive

    def columns(self, names: Iterable[str]) -> dict[str, str]:
        names = list(dict.fromkeys(names))
        mapped = {n: safe_identifier(n, self.limit) for n in names}
        if self.case_insensitive:
            folded: dict[str, list[str]] = {}
            for n, m in mapped.items():
                folded.setdefault(m.lower(), []).append(n)
            for group in folded.values():
                if len(group) > 1:
                    for n in group:
                        if n != n.lower():
                            mapped[n] = self.forced(n)
        return mapped

    def one(self, name: str) -> str:
        return safe_identifier(name, self.limit)

    def same_key(self, identifier: str) -> str:
        """What the database compares when it looks an identifier up: SQLite folds ASCII
        letters (only those), PostgreSQL compares quoted identifiers exactly."""
        return identifier.translate(_ASCII_LOWER) if self.case_insensitive else identifier

    def forced(self, name: str) -> str:
        """``name``'s identifier with the hash suffix (two names of a table that the database finds equal)."""
        limit = self.limit or 10_000
        return f"{_truncate_utf8(name.replace(chr(0), ''), limit - HASH_LEN - 1)}_{stable_hash(name)}"
