"""A project file that passed its checks once is not checked again until it changes.

Checking ``sluice.yml`` against its JSON Schema imports jsonschema (about 70 ms, most of what
loading a project costs). The checks are a pure function of the file's text (and of the schema),
so a passing file's digest is kept in ``.sluice/cache/valid-project``; a file whose digest is there
passes without the import, and any edit, another schema or other checks check again. Only the digest is
kept, never the file's content: a password written inline in ``sluice.yml`` must not be copied
under ``.sluice/``. The tenant files of ``for_each:`` are read and checked on every load (they are
not part of the digest).
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

import orjson

from runner.digests import blake2b

__all__ = ["digest", "known_valid", "remember_valid"]

_NAME = "valid-project"
# a new check checks again
_CHECKS = ("project_schema.py", "project_validate.py", "yamlscalars.py", "environments.py", "ui/cron.py")


@cache
def _salt() -> bytes:
    """This Python and the project's checks: the source of their modules (read, not imported: a run's
    start-up does not pay for building the schema), or the schema itself where there is no source."""
    try:
        here = Path(__file__)
        schema = b"\0".join((here.parent / name).read_bytes() for name in _CHECKS)
    except OSError:
        from runner.project_schema import PROJECT_SCHEMA

        schema = orjson.dumps(PROJECT_SCHEMA, option=orjson.OPT_SORT_KEYS)
    return sys.version.encode() + b"\0" + schema + b"\0"


def digest(text: str) -> bytes:
    """The project text's digest, with the schema that checks it and this Python."""
    return blake2b(_salt() + text.encode("utf-8", "surrogatepass"), digest_size=32).hexdigest().encode()


def _cache_file(path: Path) -> Path:
    return path.parent / ".sluice" / "cache" / _NAME


def known_valid(path: Path, checked: bytes) -> bool:
    """Whether the project file ``path``, whose content has the :func:`digest` ``checked``, passed its
    checks before."""
    try:
        return _cache_file(path).read_bytes().strip() == checked
    except OSError:
        return False


def remember_valid(path: Path, checked: bytes) -> None:
    """Record that the content with the :func:`digest` ``checked`` passed (the digest only); a project
    directory that cannot be written is checked each time."""
    cache = _cache_file(path)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        part = cache.with_name(f"{_NAME}.{os.getpid()}")
        part.write_bytes(checked + b"\n")
        part.replace(cache)
    except OSError:
        pass  # read-only project directory: nothing is cached
