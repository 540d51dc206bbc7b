"""How target-duckdb lays out the file it writes: row groups of ROW_GROUP_SIZE rows (flushed
during the loads, not all compressed by the COMMIT), a file other programs open as usual, and
files it did not create (another DuckDB's defaults, a name with a quote) loaded the same way."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from targets.duckdb.connection import ROW_GROUP_SIZE
from tests.conftest import exe, run
from tests.integration.sql.helpers import require_duckdb, singer, stdout_states

ROWS = 2 * ROW_GROUP_SIZE + 1_000  # three row groups of ours or more, one of DuckDB's default (122,880)


def _stream(ids: range, tag: str) -> bytes:
    head = singer({"type": "SCHEMA", "stream": "t", "key_properties": ["id"],
                   "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "s": {"type": "string"}}}})
    body = "".join(f'{{"type":"RECORD","stream":"t","record":{{"id":{i},"s":"{tag}{i}"}}}}\n' for i in ids)
    return head + body.encode() + singer({"type": "STATE", "value": {"tag": tag}})


def _load(db: Path, data: bytes, **settings: object) -> subprocess.CompletedProcess[bytes]:
    config = db.parent / "config.json"
    config.write_text(json.dumps({"path": str(db), **settings}))
    return run([exe("target-duckdb"), "--config", str(config)], input=data,
               env={**os.environ, "SLUICE_FAST_PATH": "1"})


def _row_groups(db: Path) -> list[int]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute("SELECT row_group_id, max(count) FROM pragma_storage_info('t') GROUP BY 1 "
                            "ORDER BY 1").fetchall()
    return [int(n) for _, n in rows]


def _content(db: Path) -> dict[int, str]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as conn:
        return {int(i): str(s) for i, s in conn.execute("SELECT id, s FROM t").fetchall()}


def test_a_table_is_written_in_row_groups_of_row_group_size(tmp_path: Path) -> None:
    require_duckdb()
    db = tmp_path / "x.duckdb"
    result = _load(db, _stream(range(ROWS), "a"))
    assert result.returncode == 0, result.stderr.decode()
    assert stdout_states(result.stdout) == [{"tag": "a"}]
    groups = _row_groups(db)  # DuckDB's parallel insert may leave a group short of full
    assert sum(groups) == ROWS and max(groups) <= ROW_GROUP_SIZE and len(groups) >= 3, groups
    assert not Path(f"{db}.wal").exists()  # checkpointed when the target closed it
    assert _content(db) == {i: f"a{i}" for i in range(ROWS)}


@pytest.mark.parametrize("name", ["made elsewhere.duckdb", "it's.duckdb"])
def test_a_file_made_by_another_program_is_loaded_into(tmp_path: Path, name: str) -> None:
    """A file and table DuckDB made with its defaults: upserted into, its old rows kept."""
    require_duckdb()
    import duckdb

    db = tmp_path / name
    with duckdb.connect(str(db)) as conn:
        conn.execute("CREATE TABLE t (id HUGEINT PRIMARY KEY, s VARCHAR)")
        conn.execute("INSERT INTO t SELECT range, 'old' || range FROM range(130000)")
    assert _row_groups(db) == [122_880, 130_000 - 122_880]
    result = _load(db, _stream(range(100_000, 100_000 + ROWS), "b"), adopt_existing_tables=True)
    assert result.returncode == 0, result.stderr.decode()
    assert stdout_states(result.stdout) == [{"tag": "b"}]
    want = {i: f"old{i}" for i in range(100_000)} | {i: f"b{i}" for i in range(100_000, 100_000 + ROWS)}
    assert _content(db) == want
