"""Values Singer JSON cannot carry as PostgreSQL holds them: a key's NaN or ±Infinity (refused in one line;
skipped in logged changes), a NOT NULL number's NaN (null, which its schema admits), a json value's lone
surrogate escape (U+FFFD, counted), and bytea[] elements whatever the database's bytea_output says."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, last_state, messages, records

_LONE_CHARS = range(0xD800, 0xE000)


def _tap(config: Path, catalog: Path, state: dict[str, Any] | None = None) -> tuple[int, bytes, str]:
    args = [exe("tap-postgres"), "--config", str(config), "--catalog", str(catalog)]
    if state is not None:
        path = config.with_name(config.stem + "-state.json")
        path.write_text(json.dumps(state))
        args += ["--state", str(path)]
    done = run(args)
    return done.returncode, done.stdout, done.stderr.decode()


def _catalogs(src: Src, config: Path, streams: dict[str, dict[str, Any]]) -> dict[str, Path]:
    """One catalog file per stream (its metadata as given), from one discovery."""
    every = json.loads(src.catalog(config, streams).read_text())["streams"]
    out = {}
    for entry in every:
        path = src.tmp / f"catalog-{entry['tap_stream_id']}.json"
        path.write_text(json.dumps({"streams": [entry]}))
        out[entry["tap_stream_id"]] = path
    return out


def _logged(stderr: str, level: str) -> list[str]:
    return [line.split("| ", 3)[-1] for line in stderr.splitlines() if f"| {level}" in line]


# 1: NaN and ±Infinity keys


def test_a_nan_or_infinite_key_stops_the_read_with_one_line_naming_the_row(src: Src) -> None:
    src.sql("CREATE TABLE t (a int, k numeric, v int, PRIMARY KEY (a, k)); "
            "INSERT INTO t VALUES (1, 1, 1), (1, 'NaN', 2), (2, 2, 3); "
            "CREATE TABLE f (k float8 PRIMARY KEY, v int); INSERT INTO f VALUES (1.5, 1), ('-Infinity', 2); "
            "CREATE VIEW tv AS SELECT k, v FROM t")
    config = src.config()
    expected: list[tuple[str, dict[str, Any], str]] = [
        ("public-t", {"replication-method": "FULL_TABLE"},
         "stream 'public-t': key column 'k' holds NaN in the row whose other key values are {\"a\":1}: "),
        ("public-f", {"replication-method": "INCREMENTAL", "replication-key": "v"},
         "stream 'public-f': key column 'k' holds -Infinity: "),
        ("public-tv", {"replication-method": "FULL_TABLE", "view-key-properties": ["k"]},
         "stream 'public-tv': key column 'k' holds NaN: ")]
    catalogs = _catalogs(src, config, {stream: metadata for stream, metadata, _ in expected})
    for stream, _, error in expected:
        code, stdout, stderr = _tap(config, catalogs[stream])
        assert code == 1, stderr
        assert _logged(stderr, "ERROR") == [
            error + "Singer JSON has no NaN or Infinity (other columns' are emitted as null) and a key cannot be "
                    "null; change or delete the row at the source and run again (from the last STATE), or leave "
                    "the stream out of the catalog"]
        msgs = messages(stdout)
        assert all(r["k"] is not None for r in records(msgs))
        assert not [m for m in msgs if m["type"] == "ACTIVATE_VERSION"]
    # the row fixed, the same catalog reads every row
    src.sql("UPDATE t SET k = 3 WHERE k = 'NaN'")
    code, stdout, stderr = _tap(config, catalogs["public-t"])
    assert code == 0, stderr
    assert [(r["a"], r["k"]) for r in records(messages(stdout))] == [(1, 1), (1, 3), (2, 2)]


def test_a_not_null_number_column_admits_the_null_its_nan_becomes(src: Src) -> None:
    """Its schema said {"type": "number"} and the record held null: every target refused the line."""
    src.sql("CREATE TABLE n (id numeric PRIMARY KEY, x numeric NOT NULL, y float8 NOT NULL, z int NOT NULL); "
            "INSERT INTO n VALUES (1, 'NaN', 'Infinity', 1), (2, 2.5, 'NaN', 2)")
    config = src.config()
    catalog = src.catalog(config, {"public-n": {"replication-method": "INCREMENTAL", "replication-key": "x"}})
    schema = json.loads(catalog.read_text())["streams"][0]["schema"]
    assert schema["properties"] == {"id": {"type": "number"}, "x": {"type": ["null", "number"]},
                                    "y": {"type": ["null", "number"]}, "z": {"type": "integer"}}
    code, stdout, stderr = _tap(config, catalog)
    assert code == 0, stderr
    recs = records(messages(stdout))
    assert [(r["x"], r["y"]) for r in recs] == [(2.5, None), (None, None)]  # NaN sorts last
    validator = jsonschema.Draft7Validator(schema)
    assert not [e.message for r in recs for e in validator.iter_errors(json.loads(json.dumps(r, default=float)))]
    target = src.tmp / "jsonl.json"
    target.write_text(json.dumps({"destination_path": str(src.tmp / "out")}))
    loaded = run([exe("target-jsonl"), "--config", str(target)], input=stdout)
    assert loaded.returncode == 0, loaded.stderr.decode()


def test_a_logged_change_keyed_by_nan_is_skipped_and_its_fix_read_as_a_new_row(src: Src) -> None:
    src.sql("CREATE TABLE c (k numeric PRIMARY KEY, v int); INSERT INTO c VALUES (1, 1)")
    config = src.config()
    catalog = src.catalog(config, {"public-c": {"replication-method": "LOG_BASED"}})
    code, stdout, stderr = _tap(config, catalog)
    assert code == 0, stderr
    src.sql("INSERT INTO c VALUES ('NaN', 2), (2, 3), ('Infinity', 4)")
    src.sql("UPDATE c SET v = 5 WHERE k = 'NaN'")
    src.sql("UPDATE c SET k = 5 WHERE k = 'NaN'")  # the fix: the old key NaN was never emitted, nothing to delete
    src.sql("DELETE FROM c WHERE k = 'Infinity'")
    src.sql("UPDATE c SET k = '-Infinity' WHERE k = 2")  # the row keyed 2 goes; the one keyed -Infinity is skipped
    code, stdout, stderr = _tap(config, catalog, last_state(messages(stdout)))
    assert code == 0, stderr
    assert [(r["k"], r.get("v"), r["_sdc_deleted_at"] is not None) for r in records(messages(stdout))] == [
        (2, 3, False), (5, 5, False), (2, None, True)]
    assert [w for w in _logged(stderr, "WARNING") if "key column" in w] == [
        "stream 'public-c': key column 'k': 4 logged changes skipped: the row's key is NaN or ±Infinity (JSON has "
        "no NaN or Infinity, and a key cannot be null); fix the rows at the source: the fix is read as a new row"]


# 2: lone surrogate escapes in json text

_TOKENS = [b"a", "\u00e9".encode(), b"\\\\", b'\\"', b"\\n", b"\\u005c", b"\\ud800", b"\\uDBFF", b"\\udc00",
           b"\\uDFFF", b"\\ud83d\\ude00", b"\\uD83D\\uDE00", b"\\u0000"]


def _oracle(text: bytes) -> Any:
    """The standard library's reading (it keeps lone surrogates, joins pairs), lone ones made U+FFFD."""
    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return "".join("\ufffd" if ord(ch) in _LONE_CHARS else ch for ch in value)
        if isinstance(value, list):
            return [fix(v) for v in value]
        return {fix(k): fix(v) for k, v in value.items()} if isinstance(value, dict) else value
    return fix(json.loads(text))


def _lone(value: Any) -> int:
    if isinstance(value, str):
        return sum(ord(ch) in _LONE_CHARS for ch in value)
    if isinstance(value, list):
        return sum(_lone(v) for v in value)
    return sum(_lone(k) + _lone(v) for k, v in value.items()) if isinstance(value, dict) else 0


def test_lone_surrogate_escapes_are_replaced_as_the_standard_library_reads_them() -> None:
    from taps.postgres.surrogates import LoneSurrogates, repaired

    rng = random.Random(25)
    for _ in range(3000):
        text = b'"' + b"".join(rng.choice(_TOKENS) for _ in range(rng.randint(0, 8))) + b'"'
        fixed, count = repaired(text)
        assert orjson.loads(fixed) == _oracle(text), text
        assert count == _lone(json.loads(text)), text
    # a row: each lone surrogate counted for the column whose value (or a key inside it) holds it
    for _ in range(300):
        def word() -> str:
            return json.loads(b'"' + b"".join(rng.choice(_TOKENS) for _ in range(rng.randint(0, 4))) + b'"')
        row = {f"c{i}": rng.choice([word(), [word(), {word(): word()}], None, 1.5]) for i in range(4)}
        line = json.dumps(row, separators=(",", ":")).encode()
        tally = LoneSurrogates()
        assert orjson.loads(tally.rows(line + b"\n")) == _oracle(line)
        read = json.loads(line)
        assert tally.counts == Counter({name: n for name, value in read.items() if (n := _lone(value))})


def test_lone_surrogates_in_json_become_u_fffd_counted_per_column_in_both_paths(src: Src) -> None:
    """PostgreSQL's json accepts "\\ud800": the tap crashed reading the row for its bookmark (internal error),
    or wrote a line every target refused (no low surrogate in string)."""
    src.sql("CREATE TABLE s (id int PRIMARY KEY, j json, ja json[], t text)")
    src.sql("INSERT INTO s VALUES (1, %s, NULL, %s), (2, NULL, %s::json[], NULL), (3, %s, NULL, NULL)",
            [r'{"lone": "\ud800", "pair": "\ud83d\ude00", "text": "\\ud800", "\udc00k": ["\uDBFF"]}',
             r"x\ud800", [r'"\ud800"', "1"], r'"\ud800\ud800"'])
    expected = [({"lone": "\ufffd", "pair": "\U0001f600", "text": "\\ud800", "\ufffdk": ["\ufffd"]}, None,
                 "x\\ud800"), (None, ["\ufffd", 1], None), ("\ufffd\ufffd", None, None)]
    warnings = [f"stream 'public-s': column '{column}': {count} emitted as U+FFFD (json text held a "
                "\\uD800-\\uDFFF escape without its pair, which no Unicode text holds)"
                for column, count in (("j", "5 lone surrogates"), ("ja", "1 lone surrogate"))]
    config = src.config()
    catalog = src.catalog(config, {"public-s": {"replication-method": "LOG_BASED"}})
    code, stdout, stderr = _tap(config, catalog)  # the snapshot: its last row holds one, read for the bookmark
    assert code == 0, stderr
    snapshot = messages(stdout)
    assert [(r["j"], r["ja"], r["t"]) for r in records(snapshot)] == expected
    assert _logged(stderr, "WARNING") == warnings
    src.sql("INSERT INTO s SELECT id + 10, j, ja, t FROM s")
    code, stdout, stderr = _tap(config, catalog, last_state(snapshot))
    assert code == 0, stderr
    assert [(r["j"], r["ja"], r["t"]) for r in records(messages(stdout))] == expected
    assert _logged(stderr, "WARNING") == warnings


# 3: bytea[] elements


def test_bytea_values_are_hex_whatever_the_databases_bytea_output(src: Src) -> None:
    src.sql(f'ALTER DATABASE "{src.dsn.rsplit("/", 1)[1]}" SET bytea_output = escape')
    src.sql("CREATE TABLE b (id int PRIMARY KEY, b bytea, ab bytea[]); "
            "INSERT INTO b VALUES (1, '\\x00ff41', ARRAY['\\x00ff41'::bytea, NULL, '\\x'])")
    config = src.config()
    catalog = src.catalog(config, {"public-b": {"replication-method": "LOG_BASED"}})
    code, stdout, stderr = _tap(config, catalog)
    assert code == 0, stderr
    snapshot = messages(stdout)
    src.sql("INSERT INTO b SELECT id + 1, b, ab FROM b")
    code, stdout, stderr = _tap(config, catalog, last_state(snapshot))
    assert code == 0, stderr
    rows = [(r["id"], r["b"], r["ab"]) for r in records(snapshot) + records(messages(stdout))]
    assert rows == [(1, "00ff41", ["\\x00ff41", None, "\\x"]), (2, "00ff41", ["\\x00ff41", None, "\\x"])]
