"""Values whose JSON form needs a decision: json/jsonb columns (any JSON value, or objects with
json_as_object) and NaN/±Infinity (null, counted in one WARNING per stream and column)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import jsonschema

from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, last_state, messages, records
from tests.integration.postgres_tap.test_roundtrip import pipe

JSON_VALUES = ["'{\"a\": [1, 2.50]}'", "'[1, \"x\", {\"b\": null}]'", "'\"text\"'", "'12345678901234567890.5'",
               "'true'", "'null'", "NULL", "'{}'", "'[]'"]


def _json_table(src: Src) -> None:
    src.sql("CREATE TABLE j (id int PRIMARY KEY, jb jsonb, js json)")
    src.sql("INSERT INTO j VALUES " + ", ".join(f"({i}, {v}, {v})" for i, v in enumerate(JSON_VALUES, 1)))


def _run(args: list[str]) -> tuple[list[dict[str, Any]], str]:
    done = run([exe("tap-postgres"), *args])
    assert done.returncode == 0, done.stderr.decode()
    return messages(done.stdout), done.stderr.decode()


def test_json_columns_are_declared_as_any_json_and_load_as_jsonb(src: Src) -> None:
    _json_table(src)
    config = src.config()
    catalog = src.catalog(config, {"public-j": {"replication-method": "LOG_BASED"}})
    schema = json.loads(catalog.read_text())["streams"][0]["schema"]["properties"]
    assert schema["jb"] == schema["js"] == {"type": ["null", "object", "array", "string", "number", "boolean"]}
    target = src.tmp / "target.json"
    target.write_text(json.dumps({"sqlalchemy_url": src.dsn, "default_target_schema": "dst"}))
    states = pipe([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)], target)
    types = src.sql("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'dst' "
                    "AND table_name = 'j' AND column_name IN ('jb', 'js') ORDER BY 1")
    assert types == [("jb", "jsonb"), ("js", "jsonb")]
    src.sql("INSERT INTO j SELECT id + 100, jb, js FROM j")  # the same values through logical decoding
    state = src.tmp / "state.json"
    state.write_text(json.dumps(states[-1]))
    pipe([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog), "--state", str(state)], target)
    # every value lands as the same JSON document; a JSON null is a null field in Singer: SQL NULL
    bad = src.sql("SELECT s.id, s.jb, d.jb, d.js FROM j s FULL JOIN dst.j d ON d.id = s.id WHERE s.id IS NULL "
                  "OR d.id IS NULL OR NULLIF(s.jb, 'null') IS DISTINCT FROM d.jb "
                  "OR NULLIF(s.js::jsonb, 'null') IS DISTINCT FROM d.js")
    assert bad == [] and src.sql("SELECT count(*) FROM dst.j")[0][0] == 2 * len(JSON_VALUES)


def test_json_as_object_wraps_what_is_not_an_object_so_records_match_the_schema(src: Src) -> None:
    _json_table(src)
    config = src.config(json_as_object=True)
    catalog = src.catalog(config, {"public-j": {"replication-method": "LOG_BASED"}})
    schema = json.loads(catalog.read_text())["streams"][0]["schema"]
    assert schema["properties"]["jb"] == {"type": ["null", "object"]}
    first, _ = _run(["--config", str(config), "--catalog", str(catalog)])
    src.sql("INSERT INTO j SELECT id + 100, jb, js FROM j")
    state = src.tmp / "state.json"
    state.write_text(json.dumps(last_state(first)))
    second, _ = _run(["--config", str(config), "--catalog", str(catalog), "--state", str(state)])
    expected = [{"a": [1, Decimal("2.50")]}, {"value": [1, "x", {"b": None}]}, {"value": "text"},
                {"value": Decimal("12345678901234567890.5")}, {"value": True}, None, None, {}, {"value": []}]
    validator = jsonschema.Draft7Validator({**schema, "properties": {**schema["properties"],
                                                                     "_sdc_deleted_at": {}, "_sdc_lsn": {}}})
    for recs in (records(first), records(second)):  # snapshot and logical decoding alike
        assert [r["jb"] for r in recs] == expected and [r["js"] for r in recs] == expected
        for record in recs:
            assert not list(validator.iter_errors(json.loads(json.dumps(record, default=float))))


def test_nan_and_infinity_become_null_and_are_counted_once_per_stream_and_column(src: Src) -> None:
    src.sql("CREATE TABLE f (id int PRIMARY KEY, n numeric, d float8, r real)")
    src.sql("INSERT INTO f VALUES (1, 'NaN', 'NaN', 1), (2, 'Infinity', '-Infinity', 2), (3, 1.5, 2.5, 'NaN'), "
            "(4, '-Infinity', 1, 3)")
    src.sql("CREATE TABLE g (id int PRIMARY KEY, \"we,ird\"\"\" float8); INSERT INTO g VALUES (1, 'Infinity')")
    config = src.config()
    catalog = src.catalog(config, {"public-f": {"replication-method": "LOG_BASED"},
                                   "public-g": {"replication-method": "FULL_TABLE"}})
    first, stderr = _run(["--config", str(config), "--catalog", str(catalog)])
    assert [(r["n"], r["d"], r["r"]) for r in records(first, "public-f")][:2] == [(None, None, 1), (None, None, 2)]
    assert records(first, "public-g") == [{"id": 1, 'we,ird"': None}]
    warnings = [line.split("| ", 3)[-1] for line in stderr.splitlines() if "WARNING" in line]
    assert sorted(warnings) == [
        "stream 'public-f': column 'd': 2 NaN/Infinity values emitted as null (JSON has no NaN or Infinity)",
        "stream 'public-f': column 'n': 3 NaN/Infinity values emitted as null (JSON has no NaN or Infinity)",
        "stream 'public-f': column 'r': 1 NaN/Infinity value emitted as null (JSON has no NaN or Infinity)",
        "stream 'public-g': column 'we,ird\"': 1 NaN/Infinity value emitted as null "
        "(JSON has no NaN or Infinity)"]
    assert not [m for m in first if m["type"] == "RECORD" and "\t" in json.dumps(m)]  # the marker is gone
    src.sql("INSERT INTO f VALUES (5, '-Infinity', 'Infinity', 'Infinity'), (6, 'NaN', 0, 0); "
            "UPDATE f SET d = 'NaN' WHERE id = 3")
    state = src.tmp / "state.json"
    state.write_text(json.dumps(last_state(first)))
    second, stderr = _run(["--config", str(config), "--catalog", str(catalog), "--state", str(state)])
    assert [(r["id"], r["n"], r["d"]) for r in records(second, "public-f")] == [(5, None, None), (6, None, 0),
                                                                               (3, 1.5, None)]
    counts = sorted(re.findall(r"stream '(public-[fg])': column '(.+?)': (\d+) NaN", stderr))
    assert counts == [("public-f", "d", "2"), ("public-f", "n", "2"), ("public-f", "r", "2"),
                      ("public-g", 'we,ird"', "1")]


def _snapshot_then_changes(src: Src, table: str, copy: str) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    """LOG_BASED: a snapshot of ``table`` and, after ``copy`` (an INSERT of the same values under other
    ids), the changes read from the slot, each also piped into target-postgres (schema dst). The stream's
    schema as a validator (formats checked), the snapshot's and the changes' messages."""
    config = src.config()
    catalog = src.catalog(config, {f"public-{table}": {"replication-method": "LOG_BASED"}})
    schema = json.loads(catalog.read_text())["streams"][0]["schema"]
    target = src.tmp / "target.json"
    target.write_text(json.dumps({"sqlalchemy_url": src.dsn, "default_target_schema": "dst"}))
    tap_args = [exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)]
    snapshot, _ = _run(tap_args[1:])
    states = pipe(tap_args, target)
    src.sql(copy)  # the same values through logical decoding
    state = src.tmp / "state.json"
    state.write_text(json.dumps(states[-1]))
    changes, _ = _run([*tap_args[1:], "--state", str(state)])
    pipe([*tap_args, "--state", str(state)], target)
    validator = jsonschema.Draft7Validator({**schema, "properties": {**schema["properties"], "_sdc_deleted_at": {},
                                                                     "_sdc_lsn": {}}},
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return validator, snapshot, changes


BEYOND = ["'infinity'", "'-infinity'", "'10000-01-01 12:00:00.5+00'", "'0044-03-15 10:00:00+00 BC'",
          "'2024-02-29 23:59:59+00'", "NULL"]


def test_infinite_bc_and_far_future_dates_validate_and_round_trip_through_target_postgres(src: Src) -> None:
    src.sql("CREATE TABLE w (id int PRIMARY KEY, tz timestamptz, t timestamp, d date)")
    src.sql("INSERT INTO w VALUES " + ", ".join(f"({i}, {v}, {v}, {v})" for i, v in enumerate(BEYOND, 1)))
    validator, snapshot, changes = _snapshot_then_changes(src, "w", "INSERT INTO w SELECT id + 100, tz, t, d FROM w")
    assert [(r["tz"], r["t"], r["d"]) for r in records(snapshot)] == [
        ("infinity", "infinity", "infinity"), ("-infinity", "-infinity", "-infinity"),
        ("10000-01-01T12:00:00.5+00:00", "10000-01-01T12:00:00.5+00:00", "10000-01-01"),
        ("0044-03-15T10:00:00+00:00 BC", "0044-03-15T10:00:00+00:00 BC", "0044-03-15 BC"),
        ("2024-02-29T23:59:59+00:00", "2024-02-29T23:59:59+00:00", "2024-02-29"), (None, None, None)]
    replayed = [{k: v for k, v in r.items() if not k.startswith("_sdc_")} for r in records(changes)]
    assert replayed == [{**r, "id": r["id"] + 100} for r in records(snapshot)]
    for record in records(snapshot) + records(changes):
        assert not [e.message for e in validator.iter_errors(record)], record
    types = src.sql("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'dst' "
                    "AND table_name = 'w' AND column_name IN ('tz', 't', 'd') ORDER BY 1")
    assert types == [("d", "date"), ("t", "timestamp with time zone"), ("tz", "timestamp with time zone")]
    bad = src.sql("SELECT s.id FROM w s FULL JOIN dst.w x ON x.id = s.id WHERE s.id IS NULL OR x.id IS NULL "
                  "OR s.tz IS DISTINCT FROM x.tz OR (s.t AT TIME ZONE 'UTC') IS DISTINCT FROM x.t "
                  "OR s.d IS DISTINCT FROM x.d")
    assert bad == [] and src.sql("SELECT count(*) FROM dst.w")[0][0] == 2 * len(BEYOND)


def test_end_of_day_times_and_multidimensional_arrays_validate_and_round_trip(src: Src) -> None:
    """PostgreSQL stores 24:00:00 in a time column and arrays of any dimension in an int[] column;
    the discovered schema accepts both (before, the tap's own records failed its schema)."""
    src.sql("CREATE TABLE e (id int PRIMARY KEY, tm time, ai int[], at text[])")
    src.sql("INSERT INTO e VALUES (1, '24:00:00', '{{1,2},{3,NULL}}', '{{\"a,b\",\"c\"},{\"d\",NULL}}'), "
            "(2, '23:59:59.5', '{1,2}', '{x}'), (3, NULL, '{}', NULL), (4, '00:00:00', '{{{7}}}', '{{\"\"}}')")
    validator, snapshot, changes = _snapshot_then_changes(src, "e", "INSERT INTO e SELECT id + 100, tm, ai, at FROM e")
    assert [(r["tm"], r["ai"], r["at"]) for r in records(snapshot)] == [
        ("24:00:00", [[1, 2], [3, None]], [["a,b", "c"], ["d", None]]), ("23:59:59.5", [1, 2], ["x"]),
        (None, [], None), ("00:00:00", [[[7]]], [[""]])]
    replayed = [{k: v for k, v in r.items() if not k.startswith("_sdc_")} for r in records(changes)]
    assert replayed == [{**r, "id": r["id"] + 100} for r in records(snapshot)]
    for record in records(snapshot) + records(changes):
        assert not [e.message for e in validator.iter_errors(record)], record
    assert src.sql("SELECT data_type FROM information_schema.columns WHERE table_schema = 'dst' AND "
                   "table_name = 'e' AND column_name = 'tm'") == [("time without time zone",)]
    assert src.sql("SELECT id, tm::text, ai::text FROM dst.e WHERE id IN (1, 101, 4) ORDER BY id") == [
        (1, "24:00:00", "[[1, 2], [3, null]]"), (4, "00:00:00", "[[[7]]]"), (101, "24:00:00", "[[1, 2], [3, null]]")]


def test_arrays_of_numbers_money_and_composites_hold_what_their_schema_says(src: Src) -> None:
    """An element's NaN or ±Infinity is null and money is a number (the items' schema says numbers),
    a composite or hstore element is its text (the items' schema says strings): the snapshot wrote
    "NaN", "$1.00" and objects, which failed the stream's own schema, while logical decoding wrote
    these. (hstore ships with PostgreSQL, as contrib.)"""
    src.sql("CREATE TYPE duo AS (a int, b text); CREATE EXTENSION IF NOT EXISTS hstore")
    src.sql("CREATE TABLE v (id int PRIMARY KEY, na numeric[], fa float8[], ma money[], pa duo[], ha hstore[])")
    src.sql("INSERT INTO v VALUES (1, '{1.5,NaN,NULL}', '{{Infinity,1.25},{-Infinity,NaN}}', '{1.00,-2.5}', "
            "ARRAY[ROW(1, 'x,\"y')::duo, ROW(NULL, NULL)::duo, NULL], ARRAY['a=>1, b=>NULL'::hstore, NULL]), "
            "(2, '{12345678901234567890.123456789}', '{}', NULL, '{}', '{}'), (3, NULL, NULL, '{}', NULL, NULL)")
    validator, snapshot, changes = _snapshot_then_changes(src, "v", "INSERT INTO v SELECT id + 100, na, fa, ma, pa, "
                                                                    "ha FROM v")
    assert [(r["na"], r["fa"], r["ma"], r["pa"], r["ha"]) for r in records(snapshot)] == [
        ([Decimal("1.5"), None, None], [[None, 1.25], [None, None]], [Decimal("1.00"), Decimal("-2.50")],
         ['(1,"x,""y")', "(,)", None], ['"a"=>"1", "b"=>NULL', None]),
        ([Decimal("12345678901234567890.123456789")], [], None, [], []), (None, None, [], None, None)]
    replayed = [{k: v for k, v in r.items() if not k.startswith("_sdc_")} for r in records(changes)]
    assert replayed == [{**r, "id": r["id"] + 100} for r in records(snapshot)]
    for record in records(snapshot) + records(changes):
        assert not [e.message for e in validator.iter_errors(record)], record
    assert src.sql("SELECT count(*) FROM dst.v")[0][0] == 6


def test_a_numeric_bookmark_past_a_floats_digits_resumes_where_it_was(src: Src) -> None:
    """The --state file's numbers are read exactly: read as a float, 12345678901234568300.5 became
    12345678901234569216, above every row since, and the next run skipped them."""
    src.sql("CREATE TABLE nk (id int PRIMARY KEY, k numeric)")
    src.sql("INSERT INTO nk VALUES (1, 1), (2, 12345678901234568300.5)")
    config = src.config()
    catalog = src.catalog(config, {"public-nk": {"replication-method": "INCREMENTAL", "replication-key": "k"}})
    state = src.tmp / "state.json"
    done = run([exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)])
    state.write_bytes(done.stdout.splitlines()[-1])  # the STATE message as the tap wrote it
    assert b'"replication_key_value":12345678901234568300.5' in state.read_bytes()
    src.sql("INSERT INTO nk VALUES (3, 12345678901234568400), (4, 12345678901234568300.4)")
    second, _ = _run(["--config", str(config), "--catalog", str(catalog), "--state", str(state)])
    assert [(r["id"], r["k"]) for r in records(second)] == [(2, Decimal("12345678901234568300.5")),
                                                            (3, 12345678901234568400)]
    assert last_state(second)["bookmarks"]["public-nk"]["replication_key_value"] == 12345678901234568400


def test_a_json_column_holding_what_jsonb_refuses_is_read_as_written(src: Src) -> None:
    """json (not jsonb) keeps its text: "\\u0000" (which a cast to jsonb refuses: the whole snapshot
    failed), line breaks between tokens, a key twice. The snapshot gives what logical decoding gives."""
    src.sql("CREATE TABLE jt (id int PRIMARY KEY, j json)")
    src.sql("INSERT INTO jt VALUES (1, '{\"k\": \"a\\u0000b\"}'), (2, E'{\"a\":\\n 1,\\r\\n\"b\": \"x\\\\ny\"}'), "
            "(3, '{\"d\": 1, \"d\": 2}'), (4, '[1, \"s\"]'), (5, 'null'), (6, NULL)")
    validator, snapshot, changes = _snapshot_then_changes(src, "jt", "INSERT INTO jt SELECT id + 100, j FROM jt")
    rows = [r["j"] for r in records(snapshot)]
    assert rows == [{"k": "a\x00b"}, {"a": 1, "b": "x\ny"}, {"d": 2}, [1, "s"], None, None]
    replayed = [{k: v for k, v in r.items() if not k.startswith("_sdc_")} for r in records(changes)]
    assert replayed == [{**r, "id": r["id"] + 100} for r in records(snapshot)]
    for record in records(snapshot) + records(changes):
        assert not [e.message for e in validator.iter_errors(record)], record
    assert src.sql("SELECT id, j::text FROM dst.jt WHERE id IN (1, 3, 101) ORDER BY id") == [
        (1, '{"k": "ab"}'), (3, '{"d": 2}'), (101, '{"k": "ab"}')]
