"""Stream ids are ``<schema>-<table>``, which two relations may share ("a-b".c and a."b-c" are both
``a-b-c``): discovery gives each its own id, the same on every run, and a sync reads each catalog
entry's own table (before, both streams read the first table: the second's rows were lost)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.conftest import exe, run
from tests.integration.postgres_tap.conftest import Src, records, tap

SCHEMAS = ["a-b", "a", "public"]


def _setup(src: Src) -> None:
    src.sql('CREATE SCHEMA "a-b"; CREATE SCHEMA a')
    src.sql("""CREATE TABLE "a-b".c (id int PRIMARY KEY, v text); INSERT INTO "a-b".c VALUES (1, 'from a-b.c')""")
    src.sql("""CREATE TABLE a."b-c" (id int PRIMARY KEY, v text); INSERT INTO a."b-c" VALUES (2, 'from a.b-c')""")
    src.sql("CREATE TABLE public.plain (id int PRIMARY KEY)")


def _discover(config: Path) -> dict[str, Any]:
    done = run([exe("tap-postgres"), "--config", str(config), "--discover"])
    assert done.returncode == 0, done.stderr.decode()
    catalog: dict[str, Any] = json.loads(done.stdout)
    return catalog


def _suffixed(schema: str, table: str) -> str:
    return f"{schema}-{table}-" + hashlib.sha256(f"{schema}\0{table}".encode()).hexdigest()[:8]


def _select_all(src: Src, catalog: dict[str, Any]) -> Path:
    for entry in catalog["streams"]:
        next(m for m in entry["metadata"] if m["breadcrumb"] == [])["metadata"]["selected"] = True
    path = src.tmp / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def test_relations_sharing_a_stream_id_get_unique_stable_ids_and_keep_their_rows(src: Src) -> None:
    _setup(src)
    config = src.config(filter_schemas=SCHEMAS)
    catalog = _discover(config)
    ids = [e["tap_stream_id"] for e in catalog["streams"]]
    assert sorted(ids) == sorted([_suffixed("a-b", "c"), _suffixed("a", "b-c"), "public-plain"])
    assert [e["tap_stream_id"] for e in _discover(config)["streams"]] == ids  # a rerun: the same ids
    msgs = tap(config, _select_all(src, catalog))
    assert records(msgs, _suffixed("a-b", "c")) == [{"id": 1, "v": "from a-b.c"}]
    assert records(msgs, _suffixed("a", "b-c")) == [{"id": 2, "v": "from a.b-c"}]
    assert records(msgs, "public-plain") == []


def test_a_sync_reads_the_table_its_entry_names_not_one_its_id_spells(src: Src) -> None:
    """A catalog written before ids were unique: ids a-b-c and a-b-c-2 (a user's edit); each entry's
    schema-name/table-name metadata names its table."""
    _setup(src)
    config = src.config(filter_schemas=SCHEMAS)
    catalog = _discover(config)
    for entry in catalog["streams"]:
        meta = next(m for m in entry["metadata"] if m["breadcrumb"] == [])["metadata"]
        entry["tap_stream_id"] = entry["stream"] = {"a-b": "a-b-c", "a": "a-b-c-2"}.get(meta["schema-name"],
                                                                                       entry["stream"])
    msgs = tap(config, _select_all(src, catalog))
    assert records(msgs, "a-b-c") == [{"id": 1, "v": "from a-b.c"}]
    assert records(msgs, "a-b-c-2") == [{"id": 2, "v": "from a.b-c"}]


def test_a_catalog_whose_selected_entries_share_an_id_is_refused_in_one_line(src: Src) -> None:
    _setup(src)
    config = src.config(filter_schemas=SCHEMAS)
    catalog = _discover(config)
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] != "public-plain":
            entry["tap_stream_id"] = entry["stream"] = "a-b-c"  # as discovery wrote them before
    done = run([exe("tap-postgres"), "--config", str(config), "--catalog", str(_select_all(src, catalog))])
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "stream 'a-b-c': 2 selected catalog entries share this tap_stream_id" in lines[0]
