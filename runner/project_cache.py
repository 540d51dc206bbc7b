"""A project file that passed its checks once is neither checked nor parsed again until it changes.

Loading ``sluice.yml`` imports PyYAML and jsonschema (together about 80 ms, most of what a
``sluice run`` costs beside its connectors). The checks and the parse are pure functions of the
file's text (and of the schema, and of this Python), so a passing file's digest is kept in
``.sluice/cache/valid-project`` with its parsed value (``marshal``: plain data only; a file holding
YAML dates is remembered as valid but parsed each time). A file whose digest is there loads from
it; any edit, another sluice schema or another Python parses and checks again. The tenant files of
``for_each:`` are read and checked on every load (they are not part of the digest).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

import orjson

__all__ = ["lookup", "remember_valid"]

_NAME = "valid-project"


def _digest(text: str) -> bytes:
    from runner.project_schema import PROJECT_SCHEMA

    schema = orjson.dumps(PROJECT_SCHEMA, option=orjson.OPT_SORT_KEYS)
    salt = sys.version.encode() + b"\0" + schema + b"\0"
    return hashlib.sha256(salt + text.encode("utf-8", "surrogatepass")).hexdigest().encode()


def _cache_file(path: Path) -> Path:
    return path.parent / ".sluice" / "cache" / _NAME


def lookup(path: Path, text: str) -> tuple[bool, dict[str, Any] | None]:
    """Whether ``text`` (the content of the project file ``path``) passed its checks before, and
    its parsed value when that was kept."""
    try:
        digest, _, body = _cache_file(path).read_bytes().partition(b"\n")
    except OSError:
        return False, None
    if digest != _digest(text):
        return False, None
    try:
        data = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return True, None
    return True, data if isinstance(data, dict) else None


def remember_valid(path: Path, text: str, data: dict[str, Any]) -> None:
    """Record that ``text`` passed, with ``data`` its parsed value; a project directory that cannot
    be written is parsed and checked each time."""
    try:
        body = marshal.dumps(data)
    except ValueError:  # a YAML date or other value marshal cannot hold: only the digest is kept
        body = b""
    cache = _cache_file(path)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        part = cache.with_name(f"{_NAME}.{os.getpid()}")
        part.write_bytes(_digest(text) + b"\n" + body)
        part.replace(cache)
    except OSError:
        pass  # read-only project directory: nothing is cached
