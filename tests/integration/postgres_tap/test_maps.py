"""tap-postgres with stream maps (bulk rows mapped before writing), and its --properties flag."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, messages, records, tap


def _tables(src: Src) -> None:
    src.sql("CREATE TABLE users (id int PRIMARY KEY, name text, email text, n numeric(40,20))")
    src.sql("INSERT INTO users SELECT i, 'name ' || i, 'user' || i || '@example.org', "
            "12345678901234567890.12345678901234567890 FROM generate_series(1, 500) AS i")
    src.sql("CREATE TABLE logs (id int PRIMARY KEY, msg text)")
    src.sql("INSERT INTO logs VALUES (1, 'a'), (2, 'b')")


def test_full_table_rows_are_mapped_before_writing(src: Src) -> None:
    _tables(src)
    maps = {"public-users": {"__alias__": "people", "__filter__": "id % 100 != 0", "email": "sha256(email)",
                             "name": None},
            "public-logs": None}
    msgs = tap(src.config(stream_maps=maps, flattening_enabled=True, flattening_max_depth=1))
    assert {m["stream"] for m in msgs if m["type"] in ("SCHEMA", "RECORD", "ACTIVATE_VERSION")} == {"people"}
    people = records(msgs, "people")
    assert [r["id"] for r in people] == [i for i in range(1, 501) if i % 100]
    assert all(r["email"] == hashlib.sha256(f"user{r['id']}@example.org".encode()).hexdigest() for r in people)
    assert all("name" not in r for r in people)
    assert str(people[0]["n"]) == "12345678901234567890.12345678901234567890"  # exact through the maps
    assert [m["stream"] for m in msgs if m["type"] == "ACTIVATE_VERSION"] == ["people"]
    assert "public-users" in msgs[-1]["value"]["bookmarks"]  # STATE untouched: the source's names


def test_properties_is_the_legacy_name_of_catalog(src: Src, tmp_path: Path) -> None:
    _tables(src)
    config = src.config()
    catalog = src.catalog(config, {"public-logs": {}})
    done = run([exe("tap-postgres"), "--config", str(config), "--properties", str(catalog)])
    assert done.returncode == 0, done.stderr.decode()
    msgs = messages(done.stdout)
    assert {m["stream"] for m in msgs if m["type"] == "RECORD"} == {"public-logs"}
    assert [r["id"] for r in records(msgs)] == [1, 2]
    assert json.loads(run([exe("tap-postgres"), "--about", "--format", "json"]).stdout)["capabilities"].count(
        "properties") == 1


def test_a_map_failing_on_a_bulk_row_names_the_record(src: Src) -> None:
    """tap-postgres writes its rows in bulk: a map failing on one names it as every tap does (its number
    in the stream and its key values)."""
    _tables(src)
    config = src.config(stream_maps={"public-users": {"x": "1 // (id - 321)"}, "public-logs": None})
    done = run([exe("tap-postgres"), "--config", str(config)])
    assert done.returncode == 1
    errors = [line for line in done.stderr.decode().splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and errors[0].endswith(
        "stream 'public-users', record 321 (id=321), field 'x': stream map expression '1 // (id - 321)' failed: "
        "ZeroDivisionError: integer division or modulo by zero"), done.stderr.decode()
