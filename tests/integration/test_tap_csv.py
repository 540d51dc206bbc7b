"""tap-csv end to end: the real console script as a subprocess, real files."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, exe, run
from tests.tapio import TapResult, run_tap


class Result(TapResult):
    exact_numbers = True  # numbers as Decimal, so that the tests see exactly what was written


def tap(tmp_path: Path, cfg: dict[str, Any], *args: str, state: dict[str, Any] | None = None,
        catalog: dict[str, Any] | None = None, ok: bool = True) -> Result:
    return run_tap("tap-csv", tmp_path, cfg, *args, result=Result, state=state, catalog=catalog, ok=ok)


def one(tmp_path: Path, name: str, text: str | bytes, **item: Any) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return {"files": [{"entity": "s", "path": str(path), **item}]}


# -- the examples --------------------------------------------------------------------------


def test_discover_output_is_the_committed_catalog() -> None:
    proc = run([exe("tap-csv"), "--config", "tap-csv.json", "--discover"], cwd=ROOT / "examples")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == (ROOT / "catalogs" / "tap-csv.json").read_bytes(), (
        "catalogs/tap-csv.json is stale: "
        "cd examples && tap-csv --config tap-csv.json --discover > ../catalogs/tap-csv.json")


def test_the_examples_sync_with_types_keys_and_bookmarks() -> None:
    result = Result(run([exe("tap-csv"), "--config", "tap-csv.json"], cwd=ROOT / "examples"))
    assert result.code == 0, result.stderr
    customers, orders = result.records("customers"), result.records("orders")
    assert len(customers) == 50 and len(orders) == 200
    assert result.schema("customers")["key_properties"] == ["id"]
    assert result.schema("customers")["bookmark_properties"] == ["updated_at"]
    assert customers[0]["id"] == 1 and isinstance(customers[0]["amount"], Decimal)
    assert isinstance(orders[0]["gift"], bool) and orders[0]["note"] == ""
    bookmarks = result.state["bookmarks"]
    assert bookmarks["customers"]["replication_key"] == "updated_at"
    assert bookmarks["customers"]["replication_key_value"] == max(c["updated_at"] for c in customers)
    assert "max_file_mtime" in bookmarks["orders"]


# -- values --------------------------------------------------------------------------------


def test_numbers_are_written_exactly_as_in_the_file(tmp_path: Path) -> None:
    cfg = one(tmp_path, "n.csv", "id,amount,big\n1,0.10,123456789012345678901234567890\n"
                                 "2,12345678901234567890.123456789,7\n3,1e-7,-1\n")
    result = tap(tmp_path, cfg)
    lines = [line for line in result.stdout.splitlines() if b'"RECORD"' in line]
    assert b'"amount":0.10,"big":123456789012345678901234567890' in lines[0]
    assert b'"amount":12345678901234567890.123456789' in lines[1]
    assert result.records("s")[2]["amount"] == Decimal("1e-7")
    assert result.schema("s")["schema"]["properties"]["big"] == {"type": ["integer"]}


def test_empty_cells_make_columns_nullable(tmp_path: Path) -> None:
    result = tap(tmp_path, one(tmp_path, "e.csv", "id,name,score\n1,,3\n2,Bo,\n"))
    # more on empty cells in test_tap_csv_empty_cells.py
    assert result.records("s") == [{"id": 1, "name": "", "score": 3}, {"id": 2, "name": "Bo", "score": None}]
    props = result.schema("s")["schema"]["properties"]
    assert props["name"]["type"] == ["string", "null"] and props["id"]["type"] == ["integer"]


def test_type_overrides_and_a_configured_schema(tmp_path: Path) -> None:
    text = "id,zip,price,day\n1,10115,9.5,2024-01-02\n"
    result = tap(tmp_path, one(tmp_path, "t.csv", text, types={"zip": "string", "price": "string"}))
    assert result.records("s") == [{"id": 1, "zip": "10115", "price": "9.5", "day": "2024-01-02"}]
    assert result.schema("s")["schema"]["properties"]["day"] == {"type": ["string"], "format": "date"}
    schema = {"type": "object", "properties": {"id": {"type": "string"}, "price": {"type": ["number", "null"]}}}
    result = tap(tmp_path, one(tmp_path, "t.csv", text, schema=schema))
    assert result.records("s") == [{"id": "1", "price": Decimal("9.5")}]


def test_metadata_columns(tmp_path: Path) -> None:
    cfg = one(tmp_path, "m.csv", "id\n1\n2\n")
    cfg["add_metadata_columns"] = True
    records = tap(tmp_path, cfg).records("s")
    assert [r["_sdc_source_lineno"] for r in records] == [1, 2]
    assert {r["_sdc_source_file"] for r in records} == {str(tmp_path / "m.csv")}
    mtime = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=os.stat(tmp_path / "m.csv").st_mtime_ns // 1000)
    assert datetime.fromisoformat(records[0]["_sdc_source_file_mtime"]) == mtime


def test_long_cells_are_read_whole(tmp_path: Path) -> None:
    note = "x" * 300_000  # over the csv module's default limit of 128 KiB
    assert tap(tmp_path, one(tmp_path, "l.csv", f'id,note\n1,"{note}"\n')).records("s") == [{"id": 1, "note": note}]


def test_windows_line_ends_and_quoted_line_breaks(tmp_path: Path) -> None:
    result = tap(tmp_path, one(tmp_path, "w.csv", 'id,text\r\n1,"two\r\nlines"\r\n2,b\r\n'))
    assert result.records("s") == [{"id": 1, "text": "two\r\nlines"}, {"id": 2, "text": "b"}]


# -- files ---------------------------------------------------------------------------------


def test_gzip_files_are_read_by_suffix(tmp_path: Path) -> None:
    cfg = one(tmp_path, "g.csv.gz", gzip.compress(b"id,name\n1,Ada\n2,Grace\n"))
    assert tap(tmp_path, cfg).records("s") == [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}]


def test_delimiter_quotechar_and_encoding(tmp_path: Path) -> None:
    text = "id;name;city\n1;'Dupont; Jean';Orléans\n2;'l''été';Zürich\n".encode("latin-1")
    cfg = one(tmp_path, "d.csv", text, delimiter=";", quotechar="'", encoding="latin-1")
    assert tap(tmp_path, cfg).records("s") == [
        {"id": 1, "name": "Dupont; Jean", "city": "Orléans"},
        {"id": 2, "name": "l'été", "city": "Zürich"},
    ]


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    result = tap(tmp_path, one(tmp_path, "bom.csv", b"\xef\xbb\xbfid,name\n1,a\n"))
    assert result.records("s") == [{"id": 1, "name": "a"}]


def test_a_directory_is_one_stream_and_headers_may_differ(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "2024-01.csv").write_text("id,amount\n1,2.5\n")
    (folder / "2024-02.csv.gz").write_bytes(gzip.compress(b"id,amount,channel\n2,3,web\n"))
    (folder / "readme.txt").write_text("not data")
    result = tap(tmp_path, {"files": [{"entity": "sales", "path": str(folder), "keys": ["id"]}]})
    assert result.records("sales") == [{"id": 1, "amount": Decimal("2.5")},
                                       {"id": 2, "amount": Decimal("3"), "channel": "web"}]
    assert result.schema("sales")["schema"]["properties"]["channel"] == {"type": ["string", "null"]}


def test_csv_files_definition_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    (tmp_path / "files.json").write_text(json.dumps([{"entity": "a", "path": str(tmp_path / "a.csv"), "keys": ["id"]}]))
    assert tap(tmp_path, {"csv_files_definition": str(tmp_path / "files.json")}).records("a") == [{"id": 1}]


# -- incremental ---------------------------------------------------------------------------


def test_second_run_with_the_state_emits_only_new_and_changed_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,name,updated_at\n1,a,2024-01-01T00:00:00Z\n2,b,2024-01-02T00:00:00Z\n"
                    "3,c,2024-01-03T00:00:00Z\n")
    cfg = {"files": [{"entity": "c", "path": str(path), "keys": ["id"], "replication_key": "updated_at"}]}
    first = tap(tmp_path, cfg)
    assert [r["id"] for r in first.records("c")] == [1, 2, 3]
    assert first.state["bookmarks"]["c"]["replication_key_value"] == "2024-01-03T00:00:00Z"
    path.write_text("id,name,updated_at\n1,a,2024-01-01T00:00:00Z\n2,B,2024-01-04T00:00:00Z\n"
                    "3,c,2024-01-03T00:00:00Z\n4,d,2024-01-05T00:00:00Z\n")
    second = tap(tmp_path, cfg, state=first.state)
    # rows at the bookmark are sent again (>=); older rows are not
    assert [r["id"] for r in second.records("c")] == [2, 3, 4]
    assert second.state["bookmarks"]["c"]["replication_key_value"] == "2024-01-05T00:00:00Z"


def test_date_time_bookmarks_compare_instants_not_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,at\n1,2024-01-01T12:00:00+02:00\n2,2024-01-01T11:00:00Z\n3,2024-01-01T10:30:00.5Z\n")
    cfg = {"files": [{"entity": "t", "path": str(path), "keys": ["id"], "replication_key": "at"}]}
    first = tap(tmp_path, cfg)
    assert first.state["bookmarks"]["t"]["replication_key_value"] == "2024-01-01T11:00:00Z"
    os.utime(path)  # touched: read again, filtered by the key
    second = tap(tmp_path, cfg, state=first.state)
    assert [r["id"] for r in second.records("t")] == [2]


def test_integer_bookmarks_compare_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "i.csv"
    path.write_text("seq\n9\n10\n")
    cfg = {"files": [{"entity": "i", "path": str(path), "replication_key": "seq"}]}
    first = tap(tmp_path, cfg)
    assert first.state["bookmarks"]["i"]["replication_key_value"] == 10
    path.write_text("seq\n9\n10\n11\n")
    assert [r["seq"] for r in tap(tmp_path, cfg, state=first.state).records("i")] == [10, 11]


def test_a_new_replication_key_starts_the_stream_afresh(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_text("id,seq\n1,5\n2,6\n")
    cfg = {"files": [{"entity": "k", "path": str(path), "replication_key": "id"}]}
    first = tap(tmp_path, cfg)
    cfg["files"][0]["replication_key"] = "seq"  # unchanged file, but the bookmark is for another column
    second = tap(tmp_path, cfg, state=first.state)
    assert [r["id"] for r in second.records("k")] == [1, 2]
    assert second.state["bookmarks"]["k"]["replication_key"] == "seq"
    assert "the state's bookmark is for 'id', not 'seq'" in second.stderr


def test_unchanged_files_are_skipped_by_modification_time(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("id\n1\n")
    (folder / "b.csv").write_text("id\n2\n")
    cfg = {"files": [{"entity": "f", "path": str(folder), "keys": ["id"]}]}
    first = tap(tmp_path, cfg)
    assert [r["id"] for r in first.records("f")] == [1, 2]
    mark = first.state["bookmarks"]["f"]["max_file_mtime"]

    again = tap(tmp_path, cfg, state=first.state)
    assert again.records("f") == []
    assert again.state["bookmarks"]["f"]["max_file_mtime"] == mark
    assert "1 of 2" not in again.stderr and "2 of 2 files unchanged" in again.stderr

    (folder / "c.csv").write_text("id\n3\n")
    with open(folder / "a.csv", "a") as fh:
        fh.write("4\n")
    third = tap(tmp_path, cfg, state=again.state)
    assert [r["id"] for r in third.records("f")] == [1, 4, 3]
    assert third.state["bookmarks"]["f"]["max_file_mtime"] > mark


def test_a_file_moved_in_with_an_old_mtime_is_still_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("id\n1\n")
    cfg = {"files": [{"entity": "f", "path": str(folder)}]}
    first = tap(tmp_path, cfg)
    late = tmp_path / "late.csv"
    late.write_text("id\n2\n")
    os.utime(late, (978_307_200, 978_307_200))  # written in 2001, moved in now
    late.rename(folder / "late.csv")
    assert [r["id"] for r in tap(tmp_path, cfg, state=first.state).records("f")] == [2]


def test_a_file_dated_in_the_future_does_not_hide_the_files_after_it(tmp_path: Path) -> None:
    """A file touched a day ahead moved max_file_mtime to tomorrow: a file written after the run was
    skipped ("2 of 2 files unchanged"), run after run, until that day."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("id\n1\n")
    ahead = datetime.now(UTC).timestamp() + 86_400
    os.utime(folder / "a.csv", (ahead, ahead))
    cfg = {"files": [{"entity": "f", "path": str(folder), "keys": ["id"]}]}
    first = tap(tmp_path, cfg)
    assert [r["id"] for r in first.records("f")] == [1]
    mark = datetime.fromisoformat(first.state["bookmarks"]["f"]["max_file_mtime"])
    assert mark <= datetime.now(UTC)
    warned = [line for line in first.stderr.splitlines() if "later than now" in line]
    assert len(warned) == 1 and str(folder / "a.csv") in warned[0], first.stderr

    (folder / "b.csv").write_text("id\n2\n3\n")
    second = tap(tmp_path, cfg, state=first.state)  # a.csv again (still ahead), and the new b.csv
    assert sorted(r["id"] for r in second.records("f")) == [1, 2, 3]
    assert "unchanged" not in second.stderr
    assert datetime.fromisoformat(second.state["bookmarks"]["f"]["max_file_mtime"]) <= datetime.now(UTC)


def test_a_saved_mtime_bookmark_in_the_future_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    cfg = {"files": [{"entity": "f", "path": str(tmp_path / "a.csv")}]}
    state = {"bookmarks": {"f": {"max_file_mtime": "2999-01-01T00:00:00.000000+00:00"}}}  # left by such a file
    result = tap(tmp_path, cfg, state=state)
    assert [r["id"] for r in result.records("f")] == [1]
    assert "the state's max_file_mtime 2999-01-01T00:00:00.000000+00:00 is later than now" in result.stderr
    assert datetime.fromisoformat(result.state["bookmarks"]["f"]["max_file_mtime"]) <= datetime.now(UTC)


def test_the_final_state_holds_every_bookmark(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,at\n1,2024-01-01T00:00:00Z\n")
    (tmp_path / "b.csv").write_text("id\n1\n")
    cfg = {"files": [{"entity": "a", "path": str(tmp_path / "a.csv"), "replication_key": "at"},
                     {"entity": "b", "path": str(tmp_path / "b.csv")}]}
    catalog = json.loads(tap(tmp_path, cfg, "--discover").stdout)
    for entry in catalog["streams"]:
        entry["metadata"][0]["metadata"]["selected"] = entry["tap_stream_id"] == "a"
    state = {"bookmarks": {
        "a": {"replication_key": "at", "replication_key_value": "2030-01-01T00:00:00Z"},  # nothing newer
        "b": {"max_file_mtime": "2001-01-01T00:00:00.000000+00:00"},  # not selected this time
        "retired": {"replication_key": "x", "replication_key_value": 7},  # no longer configured
    }}
    result = tap(tmp_path, cfg, catalog=catalog, state=state)
    assert result.records("a") == [] and result.records("b") == []
    final = result.messages[-1]
    assert final["type"] == "STATE"
    bookmarks = final["value"]["bookmarks"]
    assert bookmarks["a"]["replication_key_value"] == "2030-01-01T00:00:00Z"
    assert "max_file_mtime" in bookmarks["a"]
    assert bookmarks["b"] == state["bookmarks"]["b"]
    assert bookmarks["retired"] == state["bookmarks"]["retired"]


def test_each_state_is_written_once(tmp_path: Path) -> None:
    # 10,000 rows: a checkpoint falls on the last row, where the stream's end and the run's end write too
    (tmp_path / "a.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(1, 10_001)))
    (tmp_path / "b.csv").write_text("id\n1\n")
    cfg = {"files": [{"entity": "a", "path": str(tmp_path / "a.csv"), "replication_key": "id"},
                     {"entity": "b", "path": str(tmp_path / "b.csv")}]}
    for state in (None, {"bookmarks": {}}):
        result = tap(tmp_path, cfg, state=state)
        assert len(result.records("a")) == 10_000
        states = [json.dumps(m["value"], sort_keys=True) for m in result.messages if m["type"] == "STATE"]
        assert all(states[i] != states[i - 1] for i in range(1, len(states))), states
        assert result.messages[-1]["type"] == "STATE" and result.messages[-2]["type"] != "STATE"
    unchanged = tap(tmp_path, cfg, state=result.state)  # nothing new: the state given back, once
    assert [m["type"] for m in unchanged.messages].count("STATE") == 1


def test_no_state_that_does_not_cover_the_rows_before_it_is_written(tmp_path: Path) -> None:
    # a keyless file's bookmark moves only at the end: a checkpoint among its rows would carry the
    # value the run started from, and a target committing rows under it would get them twice after
    # a kill (the rerun starts from that value and reads them again)
    (tmp_path / "k.csv").write_text("n\n" + "".join(f"{i * 7 % 10}\n" for i in range(25_000)))
    cfg = {"files": [{"entity": "k", "path": str(tmp_path / "k.csv")}]}
    for state in (None, {"bookmarks": {"k": {"max_file_mtime": "2000-01-01T00:00:00+00:00"}}}):
        result = tap(tmp_path, cfg, state=state)
        assert len(result.records("k")) == 25_000
        assert [m["type"] for m in result.messages][-2:] == ["RECORD", "STATE"]
        assert [m["type"] for m in result.messages].count("STATE") == 1, state


# -- the catalog ---------------------------------------------------------------------------


def test_catalog_selection_and_types_are_honoured(tmp_path: Path) -> None:
    cfg = one(tmp_path, "c.csv", "id,amount,secret\n1,2.50,x\n", keys=["id"])
    catalog = json.loads(tap(tmp_path, cfg, "--discover").stdout)
    [entry] = catalog["streams"]
    entry["schema"]["properties"]["amount"] = {"type": ["string", "null"]}
    for item in entry["metadata"]:
        if item["breadcrumb"] == ["properties", "secret"]:
            item["metadata"]["selected"] = False
    result = tap(tmp_path, cfg, catalog=catalog)
    assert result.records("s") == [{"id": 1, "amount": "2.50"}]
    assert set(result.schema("s")["schema"]["properties"]) == {"id", "amount"}


# -- the CLI contract ----------------------------------------------------------------------


def test_connection_check(tmp_path: Path) -> None:
    cfg = one(tmp_path, "a.csv", "id\n1\n")
    result = tap(tmp_path, cfg, "--test")
    assert result.stdout == b""
    assert "1 stream, 1 readable file with a header" in result.stderr
    (tmp_path / "a.csv").write_text("")
    failed = tap(tmp_path, cfg, "--test", ok=False)
    assert failed.code == 1 and "no header row" in failed.stderr


def test_about_publishes_the_settings_schema(tmp_path: Path) -> None:
    proc = run([exe("tap-csv"), "--about", "--format", "json"])
    assert proc.returncode == 0
    about = json.loads(proc.stdout)
    assert about["name"] == "tap-csv"
    assert {"files", "csv_files_definition", "add_metadata_columns"} <= set(about["settings"]["properties"])
