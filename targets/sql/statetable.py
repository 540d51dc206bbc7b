"""The ``_sluice_state`` table: a destination's committed state, written in its data's transaction.

One row per state id (the runner's pipeline): the generation the runner passed, a sequence
bumped by every commit, whether the run that wrote it finished, and the STATE value that
covers exactly the committed rows. The SQL is the same in SQLite and PostgreSQL; only the
parameter marker differs (``?`` or ``%s``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from protocol import Committed, dumps, loads
from targets.sql.dialect import quote_identifier

__all__ = ["TABLE", "create_sql", "from_row", "params", "select_sql", "upsert_sql"]

TABLE = "_sluice_state"


def _qualified(schema: str | None) -> str:
    table = quote_identifier(TABLE)
    return f"{quote_identifier(schema)}.{table}" if schema else table


def create_sql(schema: str | None) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {_qualified(schema)} (state_id TEXT PRIMARY KEY, "
            "generation BIGINT NOT NULL, sequence BIGINT NOT NULL, complete BOOLEAN NOT NULL, "
            "value TEXT, committed_at TEXT NOT NULL)")


def upsert_sql(schema: str | None, mark: str) -> str:
    marks = ", ".join([mark] * 6)
    return (f"INSERT INTO {_qualified(schema)} (state_id, generation, sequence, complete, value, committed_at) "
            f"VALUES ({marks}) ON CONFLICT (state_id) DO UPDATE SET generation = excluded.generation, "
            "sequence = excluded.sequence, complete = excluded.complete, value = excluded.value, "
            "committed_at = excluded.committed_at")


def select_sql(schema: str | None, mark: str) -> str:
    return f"SELECT generation, sequence, complete, value FROM {_qualified(schema)} WHERE state_id = {mark}"


def params(state_id: str, committed: Committed) -> tuple[Any, ...]:
    value = None if committed.value is None else dumps(committed.value).decode()
    return (state_id, committed.generation, committed.sequence, committed.complete, value,
            datetime.now(UTC).isoformat())


def from_row(row: Any) -> Committed | None:
    if row is None:
        return None
    generation, sequence, complete, value = row
    return Committed(int(generation), int(sequence), bool(complete), None if value is None else loads(value))
