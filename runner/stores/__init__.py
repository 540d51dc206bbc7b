"""State stores: SQLite by default, PostgreSQL by URL. Backends are imported only when used."""

from __future__ import annotations

from pathlib import Path

from runner.stores.base import PipelineLock, PipelineLocked, RunRecord, StartedRun, StateStore, StoreError

__all__ = [
    "PipelineLock",
    "PipelineLocked",
    "RunRecord",
    "StartedRun",
    "StateStore",
    "StoreError",
    "open_store",
]

DEFAULT_SQLITE = Path(".sluice") / "state.db"


def open_store(url: str | None, project_dir: Path) -> StateStore:
    """``None``/``sqlite`` -> ``<project>/.sluice/state.db``; ``sqlite:PATH``; ``postgresql://...``."""
    if url and url.startswith(("postgresql://", "postgres://")):
        from runner.stores.postgres import PostgresStore

        return PostgresStore(url)
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

    raise ConfigError(f"unknown state store {url!r}: use sqlite, sqlite:PATH or postgresql://...")
