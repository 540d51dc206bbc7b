"""Column names that equal the aliases and identifiers of the tap's own SQL, and other hostile names,
in every path that generates SQL: full table (sequential, resumed, key ranges), incremental,
LOG_BASED snapshot and changes (with a TOASTed value read back from the table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.integration.postgres_tap.conftest import Src, last_state, records, tap

# every alias the generated SQL uses ("s" was the subquery alias before), SQL words and hostile spellings
TABLE = """
CREATE TABLE h (
    "s" int PRIMARY KEY, "_sluice_row" timestamptz, "_sluice_rel" text, "row" numeric, "t" jsonb,
    "Upper Case" text, "quo""te" text, "it's" bytea, "row_to_json" float8, "value" json, "select" timestamp,
    "null" inet, "h" int, "text" text, " " int, "SELECT * FROM h" text
);
ALTER TABLE h ALTER COLUMN "text" SET STORAGE EXTERNAL
"""
NAMES = ["s", "_sluice_row", "_sluice_rel", "row", "t", "Upper Case", 'quo"te', "it's", "row_to_json", "value",
         "select", "null", "h", "text", " ", "SELECT * FROM h"]
INSERT = """
INSERT INTO h SELECT g, '2024-01-01'::timestamptz + g * interval '1 hour', 'rel' || g, g / 4.0,
    jsonb_build_object('k', g), 'U' || g, 'q"' || g, '\\x00ff', g + 0.5, '[1, 2]', '2024-02-03 04:05:06',
    '10.0.0.1', -g, %s::text, g, 'sql'
FROM generate_series(%s::int, %s::int) g
"""
BIG = "(SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 150) i)"  # 4.8 kB, stored raw


def _expected(g: int, text: str | None = None) -> dict[str, Any]:
    at = (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=g)).isoformat()
    return {"s": g, "_sluice_row": at, "_sluice_rel": f"rel{g}",
            "row": Decimal(g) / 4, "t": {"k": g}, "Upper Case": f"U{g}", 'quo"te': f'q"{g}', "it's": "00ff",
            "row_to_json": g + 0.5, "value": [1, 2], "select": "2024-02-03T04:05:06+00:00", "null": "10.0.0.1",
            "h": -g, "text": text if text is not None else "small", " ": g, "SELECT * FROM h": "sql"}


def _check(recs: list[dict[str, Any]], ids: list[int], big: str | None = None) -> None:
    assert [r["s"] for r in recs] == ids
    for record in recs:
        record.pop("_sdc_deleted_at", None)
        record.pop("_sdc_lsn", None)
        want = _expected(record["s"], big if record["s"] > 1000 else None)
        assert {k: record[k] for k in NAMES} == want, record
        assert set(record) == set(NAMES)


def _setup(src: Src) -> None:
    src.sql(TABLE)
    src.sql(INSERT, ["small", 1, 20])


def test_full_table_sequential_resumed_and_incremental(src: Src) -> None:
    _setup(src)
    config = src.config(max_parallel_reads=1)
    catalog = src.catalog(config, {"public-h": {"replication-method": "FULL_TABLE"}})
    _check(records(tap(config, catalog)), list(range(1, 21)))
    resumed = tap(config, catalog, {"bookmarks": {"public-h": {"version": 1, "last_pk_fetched": {"s": 15}}}},
                  src.tmp)
    _check(records(resumed), list(range(16, 21)))  # the resume condition names the key column
    as_object = src.config(max_parallel_reads=1, json_as_object=True)  # the json rendering names columns too
    wrapped = records(tap(as_object, src.catalog(as_object, {"public-h": {"replication-method": "FULL_TABLE"}})))
    assert [(r["t"], r["value"]) for r in wrapped] == [({"k": g}, {"value": [1, 2]}) for g in range(1, 21)]
    incremental = src.catalog(config, {"public-h": {"replication-method": "INCREMENTAL",
                                                    "replication-key": "_sluice_row"}})
    msgs = tap(config, incremental)
    _check(records(msgs), list(range(1, 21)))
    bookmark = last_state(msgs)["bookmarks"]["public-h"]
    assert bookmark["replication_key_value"] == "2024-01-01T20:00:00+00:00"
    src.sql("UPDATE h SET \"_sluice_row\" = '2030-01-01' WHERE s = 3")
    again = tap(config, incremental, last_state(msgs), src.tmp)
    assert [r["s"] for r in records(again)] == [20, 3]


def test_full_table_in_key_ranges(src: Src) -> None:
    _setup(src)
    big = src.sql(f"SELECT {BIG.replace('g::text', '0::text')}")[0][0]
    src.sql(INSERT, [big, 1001, 3000])  # 2000 rows of 4.8 kB stored raw: > 8 MB, read in key ranges
    config = src.config(max_parallel_reads=3)
    msgs = tap(config, src.catalog(config, {"public-h": {"replication-method": "FULL_TABLE"}}))
    assert any("key_ranges" in m["value"]["bookmarks"].get("public-h", {}) for m in msgs if m["type"] == "STATE")
    _check(sorted(records(msgs), key=lambda r: int(r["s"])), [*range(1, 21), *range(1001, 3001)], big)


def test_log_based_snapshot_and_changes(src: Src) -> None:
    _setup(src)
    config = src.config()
    catalog = src.catalog(config, {"public-h": {"replication-method": "LOG_BASED"}})
    first = tap(config, catalog)
    _check(records(first), list(range(1, 21)))
    big = src.sql(f"SELECT {BIG.replace('g::text', '0::text')}")[0][0]
    src.sql(INSERT, [big, 1001, 1002])
    src.sql("UPDATE h SET \"h\" = -\"s\" WHERE s = 1001")  # the TOASTed "text" is unchanged: read from the table
    src.sql("DELETE FROM h WHERE s = 2")
    second = records(tap(config, catalog, last_state(first), src.tmp))
    deleted = [r for r in second if r["_sdc_deleted_at"] is not None]
    assert [r["s"] for r in deleted] == [2]
    _check([r for r in second if r["_sdc_deleted_at"] is None], [1001, 1002, 1001], big)


def test_view_columns_named_like_system_columns(src: Src) -> None:
    src.sql("CREATE TABLE base (id int PRIMARY KEY, v text); INSERT INTO base VALUES (1, 'a'), (2, 'b')")
    src.sql('CREATE VIEW v AS SELECT id AS ctid, v AS xmin, id * 10 AS tableoid, v AS "_sluice_rel" FROM base')
    config = src.config()
    catalog = src.catalog(config, {"public-v": {"replication-method": "INCREMENTAL", "replication-key": "ctid"}})
    recs = records(tap(config, catalog))
    assert recs == [{"ctid": 1, "xmin": "a", "tableoid": 10, "_sluice_rel": "a"},
                    {"ctid": 2, "xmin": "b", "tableoid": 20, "_sluice_rel": "b"}]
    full = src.catalog(config, {"public-v": {"replication-method": "FULL_TABLE"}})
    assert records(tap(config, full)) == recs
