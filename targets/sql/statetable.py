"""The ``_sluice_state`` table: a destination's committed state, written in its data's transaction.

One row per state id (the runner's pipeline): the generation the runner passed, a sequence
bumped by every commit, whether the run that wrote it finished, and the STATE value that
covers exactly the committed rows. The SQL is the same in SQLite, PostgreSQL and DuckDB; only
the parameter marker differs (``?`` or ``%s``).

The sequence fences the commits: a run writes sequence N + 1 only over the N it read at its start
or wrote itself (``ON CONFLICT ... WHERE``), and reads the row back in the same transaction
(:func:`verify`). A run that lost its pipeline lock (its store session ended by the server, and
another host took the pipeline over and committed) finds another run's sequence there: its commit
fails and rolls back, so it neither loads rows twice nor writes an old bookmark over a newer one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from protocol import Committed, TargetError, dumps, loads
from targets.sql.dialect import quote_identifier

__all__ = ["TABLE", "check_sql", "create_sql", "from_row", "params", "select_sql", "upsert_sql", "verify"]

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
            f"committed_at = excluded.committed_at WHERE {quote_identifier(TABLE)}.sequence = excluded.sequence - 1")


def check_sql(schema: str | None, mark: str) -> str:
    """The row as it is after :func:`upsert_sql`, for :func:`verify`."""
    return f"SELECT sequence, committed_at FROM {_qualified(schema)} WHERE state_id = {mark}"


def verify(row: Any, state_id: str, sent: tuple[Any, ...]) -> None:
    """Raise when the row read back (``check_sql``) is not the one this commit wrote (``sent``, the
    :func:`params`): another run committed since this one read or wrote the sequence before."""
    sequence, committed_at = sent[2], sent[5]
    if row is not None and (int(row[0]), str(row[1])) == (sequence, committed_at):
        return
    found = "no row" if row is None else f"sequence {row[0]}"
    raise TargetError(
        f"another run committed state '{state_id}' to this destination since this run's last commit (it holds "
        f"{found}, this run wrote on {sequence - 1}): this run has lost its pipeline lock (another host took the "
        "pipeline over) and commits nothing more; the other run's rows stand and the next run resumes from them")


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
