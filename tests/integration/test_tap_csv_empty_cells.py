"""tap-csv's empty cells: the empty string in string columns, as MeltanoLabs tap-csv (csv.DictReader) gives
them, quoted or not; null in typed columns; null everywhere with ``empty_as_null``."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import exe, run
from tests.tapio import TapResult, run_tap


def tap(tmp_path: Path, cfg: dict[str, Any], *, ok: bool = True, **kwargs: Any) -> TapResult:
    return run_tap("tap-csv", tmp_path, cfg, result=TapResult, ok=ok, **kwargs)


def one(tmp_path: Path, text: str, **item: Any) -> dict[str, Any]:
    (tmp_path / "e.csv").write_text(text)
    return {"files": [{"entity": "e", "path": str(tmp_path / "e.csv"), **item}]}


def random_csv(seed: int, rows: int) -> str:
    """Rows of cells that are often empty, each row written quoting every cell or only where needed,
    so that quoted ``""`` and bare empty cells both occur, beside quotes, delimiters and line breaks."""
    rnd = random.Random(seed)
    out = io.StringIO()
    minimal, every = csv.writer(out), csv.writer(out, quoting=csv.QUOTE_ALL)
    minimal.writerow(["a", "b", "c"])
    for _ in range(rows):
        cells = ["".join(rnd.choice(['', '', 'x', ' ', ',', '"', '\n', 'é']) for _ in range(rnd.randrange(3)))
                 for _ in range(3)]
        (every if rnd.random() < 0.5 else minimal).writerow(cells)
    return out.getvalue()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_untyped_records_are_what_csv_dictreader_reads(tmp_path: Path, seed: int) -> None:
    text = random_csv(seed, 300)
    assert '""' in text and ",," in text  # both kinds of empty cell are there
    oracle = list(csv.DictReader(io.StringIO(text, newline="")))
    result = tap(tmp_path, {**one(tmp_path, text), "infer_types": False})
    assert result.records("e") == oracle
    assert sum(v == "" for row in oracle for v in row.values()) > 50


def test_typed_columns_give_null_and_string_columns_the_empty_string(tmp_path: Path) -> None:
    text = 'id,name,score,day,at\n1,"",2.5,"",2024-01-01T00:00:00Z\n2,,,2024-01-02,""\n"",Bo,"",,\n'
    result = tap(tmp_path, one(tmp_path, text))
    assert result.records("e") == [
        {"id": 1, "name": "", "score": 2.5, "day": None, "at": "2024-01-01T00:00:00Z"},
        {"id": 2, "name": "", "score": None, "day": "2024-01-02", "at": None},
        {"id": None, "name": "Bo", "score": None, "day": None, "at": None},
    ]
    props = result.schema("e")["schema"]["properties"]
    assert props["id"]["type"] == ["integer", "null"] and props["name"]["type"] == ["string", "null"]
    assert props["day"] == {"type": ["string", "null"], "format": "date"}


def test_empty_as_null_makes_every_empty_cell_null_and_a_file_entry_may_override_it(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('id,name,note\n1,"",\n2,x,""\n')
    (tmp_path / "b.csv").write_text('id,name\n1,""\n2,\n')
    files = [{"entity": "a", "path": str(tmp_path / "a.csv")},
             {"entity": "b", "path": str(tmp_path / "b.csv"), "empty_as_null": False}]
    result = tap(tmp_path, {"files": files, "empty_as_null": True})
    assert result.records("a") == [{"id": 1, "name": None, "note": None}, {"id": 2, "name": "x", "note": None}]
    assert result.records("b") == [{"id": 1, "name": ""}, {"id": 2, "name": ""}]
    files[1]["empty_as_null"] = True
    untyped = tap(tmp_path, {"files": files, "infer_types": False})
    assert untyped.records("a") == [{"id": "1", "name": "", "note": ""}, {"id": "2", "name": "x", "note": ""}]
    assert untyped.records("b") == [{"id": "1", "name": None}, {"id": "2", "name": None}]


def test_a_string_column_that_is_not_nullable_takes_the_empty_string_unless_empty_means_null(
        tmp_path: Path) -> None:
    schema = {"properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    cfg = one(tmp_path, 'id,name\n1,""\n2,\n', schema=schema)
    assert tap(tmp_path, cfg).records("e") == [{"id": 1, "name": ""}, {"id": 2, "name": ""}]
    cfg["files"][0]["empty_as_null"] = True
    failed = tap(tmp_path, cfg, ok=False)
    assert failed.code == 1
    [error] = failed.errors
    assert "line 2, field 'name': empty cell in a column that is not nullable" in error


def test_an_empty_replication_key_is_no_key_value(tmp_path: Path) -> None:
    cfg = one(tmp_path, 'id,code\n1,b\n2,""\n3,a\n4,\n', replication_key="code", types={"id": "string"})
    first = tap(tmp_path, cfg)
    assert [r["code"] for r in first.records("e")] == ["b", "", "a", ""]
    assert first.state["bookmarks"]["e"]["replication_key_value"] == "b"
    state = {"bookmarks": {"e": {"replication_key": "code", "replication_key_value": "a"}}}
    again = tap(tmp_path, cfg, state=state)
    assert [r["id"] for r in again.records("e")] == ["1", "3"]  # rows without a key cannot be compared
    assert "2 rows with an empty 'code' skipped" in again.stderr


def test_about_documents_the_setting() -> None:
    proc = run([exe("tap-csv"), "--about", "--format", "json"])
    assert proc.returncode == 0
    settings = json.loads(proc.stdout)["settings"]["properties"]
    assert settings["empty_as_null"]["type"] == "boolean" and settings["empty_as_null"]["default"] is False
    assert '""' in settings["empty_as_null"]["description"]
    assert "empty_as_null" in settings["files"]["items"]["properties"]
