"""Each Airbyte source's SPEC, kept in the user's cache per program version, so that a run knows which
of its settings the source marks ``airbyte_secret`` (and keeps their values out of the logs) without
starting the source an extra time on every run.

The cache is ``$XDG_CACHE_HOME/sluice/airbyte-specs/`` (``~/.cache`` by default), one JSON file per
source program, named by a digest of its command line and of the size and modification time of each
file the command names (the program, and a script it is given): a reinstalled or upgraded source gets
a new entry. A cache that cannot be read or written is skipped (the spec is then asked for again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol import SluiceError
from taps.airbyte.settings import AirbyteSettings

__all__ = ["cache_dir", "cached_spec"]

log = logging.getLogger("sluice.airbyte")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sluice" / "airbyte-specs"


def _key(settings: AirbyteSettings) -> str:
    parts: list[Any] = []
    for item in settings.command:
        try:
            st = os.stat(item)
        except OSError:
            parts.append([item])
            continue
        parts.append([item, st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def cached_spec(settings: AirbyteSettings, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """The source's SPEC from the cache, else ``fetch()``'s (stored for next time); None when the
    source cannot give one (the run reports its own errors)."""
    path = cache_dir() / f"{_key(settings)}.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(spec, dict):
            return spec
    except (OSError, ValueError):
        pass
    try:
        spec = fetch()
    except SluiceError as exc:
        log.debug("no spec of %s for the redaction of its secrets: %s", settings.source_name, exc)
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError as exc:
        log.debug("cannot cache the spec of %s in %s: %s", settings.source_name, path.parent, exc)
        return spec
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(spec, out)
        os.replace(tmp, path)  # whole or not at all, should two runs write it at once
    except OSError as exc:
        log.debug("cannot cache the spec of %s in %s: %s", settings.source_name, path.parent, exc)
        Path(tmp).unlink(missing_ok=True)
    return spec
