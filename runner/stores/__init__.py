"""State stores: SQLite by default, PostgreSQL by URL. Backends are imported only when used."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from runner.stores.base import (
    DEFAULT_LOCK_TIMEOUT,
    LockInfo,
    LockLost,
    PipelineLock,
    PipelineLocked,
    RunRecord,
    StartedRun,
    StateStore,
    StoreError,
    host_name,
    ran_since,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "LockInfo",
    "LockLost",
    "PipelineLock",
    "PipelineLocked",
    "RunRecord",
    "StartedRun",
    "StateStore",
    "StoreError",
    "host_name",
    "is_shared",
    "lock_timeout",
    "open_store",
    "ran_since",
]

DEFAULT_SQLITE = Path(".sluice") / "state.db"
MIN_LOCK_TIMEOUT = 1.0


def lock_timeout(configured: float | None, environ: Mapping[str, str] | None = None) -> float:
    """Seconds after which a runner cut off from a PostgreSQL store loses its locks:
    ``SLUICE_LOCK_TIMEOUT`` wins over ``lock_timeout_seconds:`` of sluice.yml (``configured``)."""
    from protocol import ConfigError

    text = (os.environ if environ is None else environ).get("SLUICE_LOCK_TIMEOUT")
    if not text:
        return DEFAULT_LOCK_TIMEOUT if configured is None else float(configured)
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value >= MIN_LOCK_TIMEOUT:
        raise ConfigError(f"SLUICE_LOCK_TIMEOUT={text!r}: give a number of seconds, at least {MIN_LOCK_TIMEOUT:g}")
    return value


def is_shared(url: str | None) -> bool:
    """Whether the store at ``url`` is one several hosts can share (PostgreSQL)."""
    return bool(url and url.startswith(("postgresql://", "postgres://")))


def open_store(url: str | None, project_dir: Path, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> StateStore:
    """``None``/``sqlite`` -> ``<project>/.sluice/state.db``; ``sqlite:PATH``; ``postgresql://...``.
    ``lock_timeout``: seconds after which a runner cut off from a PostgreSQL store loses its locks."""
    if url is not None and is_shared(url):
        from runner.stores.postgres import PostgresStore

        return PostgresStore(url, lock_timeout)
    from runner.stores.sqlite import SQLiteStore

    if not url or url == "sqlite":
        return SQLiteStore(project_dir / DEFAULT_SQLITE)
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:"):]
        if rest.startswith("///"):
            rest = rest[2:]
        path = Path(rest).expanduser()
        return SQLiteStore(path if path.is_absolute() else project_dir / path)
    from protocol import ConfigError
    from runner.stores.urls import redact_url

    raise ConfigError(f"unknown state store {redact_url(url)!r}: use sqlite, sqlite:PATH or postgresql://...")
