"""One table per stream, in both SQL targets: streams whose table names collide fail the run
naming both, a table the target did not create is never altered unless adopted, and reruns
load into the stream's own table (see targets/sql/owners.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from tests.integration.sql.helpers import Dest, error_lines, make_dest, singer, stdout_states


def _schema(stream: str, *fields: str, key: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    props = {"id": {"type": "integer"}, **{f: {"type": ["string", "null"]} for f in fields}}
    return {"type": "SCHEMA", "stream": stream, "key_properties": list(key),
            "schema": {"type": "object", "properties": props}}


def _rec(stream: str, **record: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": record}


def _state(n: int) -> dict[str, Any]:
    return {"type": "STATE", "value": {"n": n}}


def _one_error(result: Any) -> str:
    assert result.returncode != 0, result.stderr.decode()
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    return errors[0]


def test_streams_differing_only_by_case(dest: Dest) -> None:
    data = singer(_schema("Users", "a"), _rec("Users", id=1, a="upper"), _state(1),
                  _schema("users", "b"), _rec("users", id=1, b="lower"), _rec("users", id=2, b="lower"), _state(2))
    result = dest.load(data)
    if dest.kind == "postgres":  # quoted identifiers keep their case: two tables
        assert result.returncode == 0, result.stderr.decode()
        assert dest.tables() == {"Users", "users"}
        assert dest.rows("Users") == [{"id": 1, "a": "upper"}]
        assert sorted(r["id"] for r in dest.rows("users")) == [1, 2]
        assert dest.owners() == {"Users": "Users", "users": "users"}
        return
    error = _one_error(result)
    assert "'Users'" in error and "'users'" in error and "line 4" in error and "table_names" in error
    assert stdout_states(result.stdout) == [{"n": 1}]
    # what the STATE covered stays; nothing of the second stream landed, nothing was merged
    assert dest.tables() == {"Users"}
    assert dest.rows("Users") == [{"id": 1, "a": "upper"}]


def test_schema_table_streams_colliding_fail_naming_both(dest_factory: Callable[..., Dest]) -> None:
    dest = dest_factory()
    data = singer(_schema("public-people", "name"), _rec("public-people", id=1, name="Ada"), _state(1),
                  _schema("crm-people", "email"), _rec("crm-people", id=1, email="x@y"), _state(2))
    error = _one_error(dest.load(data))
    assert "'public-people'" in error and "'crm-people'" in error and '"people"' in error
    assert dest.rows("people") == [{"id": 1, "name": "Ada"}]  # not overwritten, no column added
    # mapped apart, both load, each into its own table
    mapped = dest_factory(table_names={"crm-people": "crm_people"})
    result = mapped.load(data)
    assert result.returncode == 0, result.stderr.decode()
    assert mapped.rows("people") == [{"id": 1, "name": "Ada"}]
    assert mapped.rows("crm_people") == [{"id": 1, "email": "x@y"}]
    assert mapped.owners() == {"people": "public-people", "crm_people": "crm-people"}


def test_a_later_run_of_another_stream_cannot_take_the_table(dest: Dest) -> None:
    first = dest.load(singer(_schema("public-people", "name"), _rec("public-people", id=1, name="Ada"), _state(1)))
    assert first.returncode == 0, first.stderr.decode()
    error = _one_error(dest.load(singer(_schema("crm-people", "email"), _rec("crm-people", id=1, email="x@y"))))
    assert "'public-people'" in error and "'crm-people'" in error and "another run" in error
    assert dest.columns("people").keys() == {"id", "name"}
    # the stream that owns it loads into it again, run after run
    again = dest.load(singer(_schema("public-people", "name", "extra"),
                             _rec("public-people", id=1, name="Ada L.", extra="e"), _state(2)))
    assert again.returncode == 0, again.stderr.decode()
    assert dest.rows("people") == [{"id": 1, "name": "Ada L.", "extra": "e"}]


def test_an_existing_table_is_not_altered_unless_adopted(dest_factory: Callable[..., Dest]) -> None:
    dest = dest_factory()
    dest.execute("CREATE TABLE x (id INTEGER, note TEXT)", "INSERT INTO x VALUES (1, 'mine'), (1, 'also mine')")
    data = singer(_schema("hr-x", "salary"), _rec("hr-x", id=2, salary="lots"), _state(1))
    error = _one_error(dest.load(data))
    assert "'hr-x'" in error and '"x"' in error and "adopt_existing_tables" in error
    assert dest.columns("x").keys() == {"id", "note"}
    assert sorted(r["note"] for r in dest.rows("x")) == ["also mine", "mine"]
    unique = {"postgres": "SELECT count(*) FROM pg_indexes WHERE tablename = 'x'",
              "sqlite": "SELECT count(*) FROM pragma_index_list('x')",
              "duckdb": "SELECT (SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'x') + (SELECT count(*) "
                        "FROM duckdb_constraints() WHERE table_name = 'x' AND constraint_type <> 'NOT NULL')",
              }[dest.kind]
    assert dest.sql(unique) == [(0,)]
    # adopted on request: loaded and recorded, so the next run needs no setting
    dest.execute("DELETE FROM x WHERE note = 'also mine'")
    adopting = dest_factory(adopt_existing_tables=True)
    result = adopting.load(data)
    assert result.returncode == 0, result.stderr.decode()
    assert dest.owners() == {"x": "hr-x"}
    plain = dest_factory()
    again = plain.load(singer(_schema("hr-x", "salary"), _rec("hr-x", id=1, salary="some"), _state(2)))
    assert again.returncode == 0, again.stderr.decode()
    assert sorted((r["id"], r["note"], r["salary"]) for r in dest.rows("x")) == [(1, "mine", "some"),
                                                                                 (2, None, "lots")]


def test_a_dropped_table_can_be_claimed_anew(dest: Dest) -> None:
    assert dest.load(singer(_schema("a-t"), _rec("a-t", id=1), _state(1))).returncode == 0
    dest.execute("DROP TABLE t")
    result = dest.load(singer(_schema("b-t", "v"), _rec("b-t", id=5, v="b"), _state(2)))
    assert result.returncode == 0, result.stderr.decode()
    assert dest.rows("t") == [{"id": 5, "v": "b"}]
    assert dest.owners() == {"t": "b-t"}


def test_the_targets_own_table_names_are_reserved(dest: Dest) -> None:
    error = _one_error(dest.load(singer(_schema("_sluice_tables"), _rec("_sluice_tables", id=1))))
    assert "'_sluice_tables'" in error and "reserved" in error
    assert dest.tables(own=True) == set()


EMPTY = "_da39a3ee"  # the identifier of the empty name: "_" + the first 8 hex digits of sha1("")


def test_an_empty_property_name_lands_in_a_mapped_column(dest: Dest) -> None:
    """``""`` is a legal JSON name; no SQL identifier can be empty (PostgreSQL refuses it).
    It is mapped like any unsafe name, the same in every SQL target, and a field that is
    literally named like the mapping keeps its own column."""
    schema = {"type": "SCHEMA", "stream": "odd", "key_properties": [""],
              "schema": {"type": "object", "properties": {"": {"type": "integer"}, "v": {"type": "string"},
                                                          EMPTY: {"type": ["string", "null"]}}}}
    data = singer(schema, _rec("odd", **{"": 1, "v": "a", EMPTY: "lit"}), _rec("odd", **{"": 2, "v": "b"}),
                  _rec("odd", **{"": 1, "v": "a2"}), _state(1))
    result = dest.load(data)
    assert result.returncode == 0, result.stderr.decode()
    columns = list(dest.columns("odd"))
    literal = next(c for c in columns if c.startswith(EMPTY + "_"))
    assert sorted(columns) == sorted([EMPTY, "v", literal])
    rows = sorted(dest.rows("odd"), key=lambda r: r[EMPTY])
    assert rows == [{EMPTY: 1, "v": "a2", literal: None}, {EMPTY: 2, "v": "b", literal: None}]
    again = dest.load(singer(schema, _rec("odd", **{"": 2, "v": "b2", EMPTY: "lit2"}), _state(2)))
    assert again.returncode == 0, again.stderr.decode()
    assert sorted(dest.columns("odd")) == sorted(columns)
    assert sorted(dest.rows("odd"), key=lambda r: r[EMPTY]) == [{EMPTY: 1, "v": "a2", literal: None},
                                                                {EMPTY: 2, "v": "b2", literal: "lit2"}]


def test_a_concurrent_claim_of_the_same_new_table_fails_one_run(tmp_path: Path, pg_dsn: str) -> None:
    """Two runs that create one table at once: the second waits for the first's record and
    then fails naming both streams, instead of loading into the first one's table."""
    dest = make_dest("postgres", tmp_path, pg_dsn)
    assert dest.load(singer(_schema("public-other"), _state(0))).returncode == 0  # the record table exists
    with psycopg.connect(pg_dsn) as other:  # another run, its transaction still open
        other.execute("INSERT INTO public._sluice_tables (table_name, stream) VALUES ('people', 'crm-people')")
        proc = subprocess.Popen([dest.exe, "--config", str(dest.config_path)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = _feed_when_blocked(proc, pg_dsn, other)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    error = _one_error(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    assert "'crm-people'" in error and "'public-people'" in error and '"people"' in error
    assert dest.owners() == {"other": "public-other", "people": "crm-people"}
    assert "people" not in dest.tables()


def _feed_when_blocked(proc: subprocess.Popen[bytes], dsn: str, other: psycopg.Connection[Any]) -> tuple[bytes, bytes]:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(singer(_schema("public-people", "name"), _rec("public-people", id=1, name="Ada")))
    proc.stdin.close()
    with psycopg.connect(dsn, autocommit=True) as watch:
        for _ in range(600):  # until the target waits for the other run's row lock
            if watch.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND wait_event_type = 'Lock'").fetchone() != (0,):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the target never waited for the other run")
    other.commit()
    with proc.stdout, proc.stderr:
        out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=60)
    return out, err


def test_a_key_the_table_cannot_take_names_the_stream_and_the_table(dest_factory: Callable[..., Dest]) -> None:
    """Rows appended to a table with a unique key (load_method append-only after an upsert run), and a
    stream's key narrowed over rows that share the narrower key: the database's own error came
    alone ("duplicate key value violates unique constraint", "could not create unique index")."""
    dest = dest_factory()
    first = dest.load(singer(_schema("ao", "v"), _rec("ao", id=1, v="a"), _state(1)))
    assert first.returncode == 0, first.stderr.decode()
    appended = dest_factory(load_method="append-only").load(singer(_schema("ao", "v"), _rec("ao", id=1, v="b"),
                                                                    _state(2)))
    assert appended.returncode != 0
    warnings = [line for line in appended.stderr.decode().splitlines() if "WARNING" in line]
    assert any("stream 'ao': table ao has a unique key ['id'] and the stream's rows are appended "
               "(load_method append-only)" in w for w in warnings), appended.stderr.decode()
    if dest.kind == "postgres":  # the key the database found taken
        assert "(Key (id)=(1) already exists)" in error_lines(appended.stderr)[0]
    dest = dest_factory()  # the config file again without append-only
    keyless = dest.load(singer(_schema("kc", "v", key=()), _rec("kc", id=1, v="a"), _rec("kc", id=1, v="b"),
                               _state(3)))
    assert keyless.returncode == 0, keyless.stderr.decode()
    error = _one_error(dest.load(singer(_schema("kc", "v"), _rec("kc", id=2, v="c"), _state(4))))
    assert error.split(" | ")[-1].startswith("stream 'kc': table kc: AddUniqueKey ('id',) failed (a unique key "
                                             "needs the rows' keys to differ): "), error
