"""LOG_BASED and what PostgreSQL sends of a changed row: TOASTed values an update left unchanged,
old tuples that hold only the replica identity, replica identities the tap cannot use, array keys."""

from __future__ import annotations

import pytest

from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, last_state, records, tap

#: ~6.4 kB of incompressible text: stored out of line (TOAST), so not sent when an update leaves it unchanged
BIG = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 200))"


def test_a_key_change_keeps_the_toasted_values_it_left_unchanged(src: Src) -> None:
    """Under the default replica identity the old tuple of a key change holds the key only: its other
    columns are NULL, not the row's values; the unchanged TOASTed values must come from the table."""
    src.sql("CREATE TABLE t (id int PRIMARY KEY, v text, big text, doc jsonb, arr text[])")
    src.sql(f"INSERT INTO t SELECT g, 'v' || g, {BIG}, jsonb_build_object('k', {BIG}), ARRAY[{BIG}] "
            "FROM generate_series(1, 2) g")
    config = src.config()
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    state = last_state(tap(config, catalog))
    src.sql("UPDATE t SET id = 40 WHERE id = 2")
    src.sql("UPDATE t SET v = 'one' WHERE id = 1")
    changes = records(tap(config, catalog, state, src.tmp))
    assert [(r["id"], r["_sdc_deleted_at"] is not None) for r in changes] == [(2, True), (40, False), (1, False)]
    source = {r[0]: r[1:] for r in src.sql("SELECT id, v, big, doc->>'k', arr[1] FROM t")}
    for rec in changes[1:]:
        assert (rec["v"], rec["big"], rec["doc"]["k"], rec["arr"][0]) == source[rec["id"]]


@pytest.mark.parametrize(("identity", "said"), [("USING INDEX t_u", "USING INDEX on u"), ("NOTHING", "NOTHING")])
def test_a_replica_identity_without_the_primary_key_is_refused_in_one_line(src: Src, identity: str,
                                                                          said: str) -> None:
    """Deletes would carry the index columns, not the key (records {'id': None}, deleted rows kept), or
    nothing at all (and PostgreSQL refuses the application's deletes once the table is published)."""
    src.sql("CREATE TABLE t (id int PRIMARY KEY, u text NOT NULL, v text); CREATE UNIQUE INDEX t_u ON t (u); "
            f"ALTER TABLE t REPLICA IDENTITY {identity}; INSERT INTO t VALUES (1, 'a', 'one')")
    config = src.config()
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    done = run([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)])
    assert done.returncode == 2 and done.stdout == b""
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1, errors
    assert "public-t" in errors[0] and f"REPLICA IDENTITY {said}:" in errors[0]
    assert "ALTER TABLE public.t REPLICA IDENTITY DEFAULT (or FULL)" in errors[0]
    assert src.slot_position() is None and not src.sql("SELECT 1 FROM pg_publication")  # nothing touched


def test_a_replica_identity_index_holding_the_primary_key_is_read(src: Src) -> None:
    """An identity index over the key and more columns: deletes and key changes carry the key."""
    src.sql("CREATE TABLE t (id int PRIMARY KEY, u text NOT NULL, v text); CREATE UNIQUE INDEX t_iu ON t (id, u); "
            "ALTER TABLE t REPLICA IDENTITY USING INDEX t_iu")
    src.sql("INSERT INTO t VALUES (1, 'a', 'one'), (2, 'b', 'two'), (3, 'c', 'three')")
    config = src.config()
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    state = last_state(tap(config, catalog))
    src.sql("DELETE FROM t WHERE id = 2; UPDATE t SET u = 'cc' WHERE id = 3; UPDATE t SET id = 10 WHERE id = 1")
    changes = records(tap(config, catalog, state, src.tmp))
    assert [(r["id"], r.get("u"), r["_sdc_deleted_at"] is not None) for r in changes] == [
        (2, None, True), (3, "cc", False), (1, None, True), (10, "a", False)]


def test_an_array_key_finds_the_row_of_unsent_toasted_values(src: Src) -> None:
    """The unchanged TOASTed values are read from the table by the row's key, here an array."""
    src.sql(f"CREATE TABLE t (id int[] PRIMARY KEY, v text, big text); "
            f"INSERT INTO t VALUES ('{{1,2}}', 'x', {BIG}), ('{{3}}', 'z', {BIG})")
    config = src.config()
    catalog = src.catalog(config, {"public-t": {"replication-method": "LOG_BASED"}})
    state = last_state(tap(config, catalog))
    src.sql("UPDATE t SET v = 'y' WHERE id = '{1,2}'")
    changes = records(tap(config, catalog, state, src.tmp))
    source = {tuple(r[0]): r[1:] for r in src.sql("SELECT id, v, big FROM t")}
    assert [(r["id"], r["v"], r["big"]) for r in changes] == [([1, 2], "y", source[(1, 2)][1])]


def test_a_full_table_read_resumes_after_an_array_key(src: Src) -> None:
    """The resume bookmark holds the key as emitted, a JSON array: it is compared as a PostgreSQL array."""
    src.sql("CREATE TABLE t (id text[] PRIMARY KEY, v text); INSERT INTO t VALUES "
            "(ARRAY['a', 'b'], 'one'), (ARRAY['a', 'c\\\"'], 'two'), (ARRAY['b'], 'three'), (ARRAY['b', NULL], 'four')")
    config = src.config()
    catalog = src.catalog(config, {"public-t": {"replication-method": "FULL_TABLE"}})
    assert [r["id"] for r in records(tap(config, catalog))][1] == ["a", 'c\\"']  # the bookmark's form
    state = {"bookmarks": {"public-t": {"version": 1, "last_pk_fetched": {"id": ["a", 'c\\"']}}}}
    resumed = tap(config, catalog, state, src.tmp)
    assert [r["v"] for r in records(resumed)] == ["three", "four"]
