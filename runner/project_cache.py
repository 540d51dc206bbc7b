"""A project file that passed its checks once is not checked again until it changes.

Checking ``sluice.yml`` against its JSON Schema imports jsonschema (about 70 ms, most of what
loading a project costs). The checks are a pure function of the file's text (and of the schema),
so a passing file's digest is kept in ``.sluice/cache/valid-project``; a file whose digest is there
passes without the import, and any edit or another sluice schema checks again. Only the digest is
kept, never the file's content: a password written inline in ``sluice.yml`` must not be copied
under ``.sluice/``. The tenant files of ``for_each:`` are read and checked on every load (they are
not part of the digest).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import orjson

__all__ = ["known_valid", "remember_valid"]

_NAME = "valid-project"


def _digest(text: str) -> bytes:
    from runner.project_schema import PROJECT_SCHEMA

    schema = orjson.dumps(PROJECT_SCHEMA, option=orjson.OPT_SORT_KEYS)
    salt = sys.version.encode() + b"\0" + schema + b"\0"
    return hashlib.sha256(salt + text.encode("utf-8", "surrogatepass")).hexdigest().encode()


def _cache_file(path: Path) -> Path:
    return path.parent / ".sluice" / "cache" / _NAME


def known_valid(path: Path, text: str) -> bool:
    """Whether ``text`` (the content of the project file ``path``) passed its checks before."""
    try:
        return _cache_file(path).read_bytes().strip() == _digest(text)
    except OSError:
        return False


def remember_valid(path: Path, text: str) -> None:
    """Record that ``text`` passed (its digest only); a project directory that cannot be written is
    checked each time."""
    cache = _cache_file(path)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        part = cache.with_name(f"{_NAME}.{os.getpid()}")
        part.write_bytes(_digest(text) + b"\n")
        part.replace(cache)
    except OSError:
        pass  # read-only project directory: nothing is cached
