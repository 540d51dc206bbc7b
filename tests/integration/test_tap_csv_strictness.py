"""tap-csv never changes data silently: a value past the type sample that does not fit its column,
and a quoted field the file ends inside, stop the run with one line naming the file, line and field."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.tapio import TapResult, run_tap


class Result(TapResult):
    exact_numbers = True


def tap(tmp_path: Path, name: str, data: str | bytes, ok: bool = True, **item: Any) -> tuple[Result, str]:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    cfg = {"files": [{"entity": "s", "path": str(path), "keys": ["id"], **item}]}
    return run_tap("tap-csv", tmp_path, cfg, result=Result, ok=ok), str(path)


def the_error(result: Result) -> str:
    assert result.code == 1 and "Traceback" not in result.stderr
    assert len(result.errors) == 1, result.stderr
    return result.errors[0]


# -- values past the sample -----------------------------------------------------------------

# The probe's file, one bad cell at a time: (column, the sampled value, a later value).
LATE = [
    ("zip", "501", "00501"), ("zip", "501", " 42 "), ("zip", "501", "-0"), ("zip", "501", "+7"),
    ("amt", "1.5", "1_000"), ("amt", "1.5", "\u0663"), ("amt", "1.5", "+5"), ("amt", "1.5", " 2.5"),
    ("amt", "1.5", ".5"),
    ("flag", "true", "1"), ("flag", "true", "yes"), ("flag", "true", "n"), ("flag", "true", "t"),
    ("ts", "2024-01-01T00:00:00Z", "20240101T100000"), ("ts", "2024-01-01T00:00:00Z", "2024-01-01T10"),
    ("ts", "2024-01-01T00:00:00Z", "2024-01-01T10:00:00+05:30:15"),
]


@pytest.mark.parametrize(("column", "sampled", "late"), LATE, ids=[f"{c}={v!r}" for c, _, v in LATE])
def test_a_late_value_the_type_would_not_have_taken_stops_the_run(tmp_path: Path, column: str, sampled: str,
                                                                   late: str) -> None:
    result, path = tap(tmp_path, "a.csv", f"id,{column}\n1,{sampled}\n2,{late}\n", ok=False, sample_size=1)
    line = the_error(result)
    assert f"stream 's': {path}, line 3, field '{column}': value {late!r} is not a valid" in line
    assert "inferred from the first 1 rows" in line


def test_late_values_of_the_inferred_forms_are_read_as_the_readme_says(tmp_path: Path) -> None:
    data = ("id,n,x,b,ts\n"
            "1,5,1.5,true,2024-01-01T00:00:00Z\n"
            "2,-12,1e3,FALSE,2024-01-01 10:00\n"
            "3,0,-0,True,2024-01-01T10:00:00+0530\n"
            "4,7,0.10,false,2024-01-01t10:00:00.25z\n")
    result, _ = tap(tmp_path, "a.csv", data, sample_size=1)
    assert result.records("s") == [
        {"id": 1, "n": 5, "x": Decimal("1.5"), "b": True, "ts": "2024-01-01T00:00:00Z"},
        {"id": 2, "n": -12, "x": Decimal("1E+3"), "b": False, "ts": "2024-01-01T10:00:00+00:00"},
        {"id": 3, "n": 0, "x": Decimal("-0"), "b": True, "ts": "2024-01-01T10:00:00+05:30"},
        {"id": 4, "n": 7, "x": Decimal("0.10"), "b": False, "ts": "2024-01-01T10:00:00.250000+00:00"},
    ]
    assert b'"x":-0,' in result.stdout and b'"x":0.10,' in result.stdout


def test_a_declared_boolean_reads_common_spellings_and_a_declared_integer_stays_strict(tmp_path: Path) -> None:
    data = "id,flag\n1,yes\n2,N\n3,1\n4,f\n"
    result, _ = tap(tmp_path, "a.csv", data, types={"flag": "boolean"})
    assert [r["flag"] for r in result.records("s")] == [True, False, True, False]
    result, path = tap(tmp_path, "b.csv", "id,zip\n1,501\n2,00501\n", ok=False, types={"zip": "integer"})
    line = the_error(result)
    assert (f"{path}, line 3, field 'zip': value '00501' is not a valid integer "
            "(the type 'integer' is set for this field in 'types')") in line


# -- a quoted field the file ends inside ---------------------------------------------------------

UNCLOSED = [
    ("rows swallowed", b'id,v\n1,"abc\n2,x\n3,y\n', 2),
    ("no final line break", b'id,v\n1,"abc\n2,x\n3,y', 2),
    ("the last line", b'id,v\n1,a\n2,"abc\n', 3),
    ("after a multi-line row", b'id,v\n1,"p\nq"\n2,"abc\n3,x\n', 4),
    ("CRLF", b'id,v\r\n1,a\r\n2,"abc\r\n3,x\r\n', 3),
    ("a lone CR inside", b'id,v\n1,"a\rb"\n2,"abc\r3,x\n', 4),  # a CR alone ends a line too
    ("only the header before", b'id,v\n1,"abc\n', 2),
]


@pytest.mark.parametrize(("case", "data", "line"), UNCLOSED, ids=[c[0] for c in UNCLOSED])
def test_a_file_ending_inside_a_quoted_field_stops_the_run(tmp_path: Path, case: str, data: bytes,
                                                           line: int) -> None:
    result, path = tap(tmp_path, "q1.csv", data, ok=False)
    assert the_error(result).endswith(f"stream 's': {path}, line {line}: malformed CSV: a quoted field opened in "
                                      "this row is never closed (the file ends inside it)")
    assert result.records("s") == []


def test_a_quote_opened_on_a_last_line_without_a_line_break_loses_nothing(tmp_path: Path) -> None:
    result, _ = tap(tmp_path, "q.csv", b'id,v\n1,a\n2,"abc')  # as the README says: not caught, no row lost
    assert result.records("s") == [{"id": 1, "v": "a"}, {"id": 2, "v": "abc"}]


def test_the_check_reads_gzip_files_too(tmp_path: Path) -> None:
    result, path = tap(tmp_path, "q1.csv.gz", gzip.compress(b'id,v\n1,a\n2,"abc\n3,x\n'), ok=False)
    assert f"{path}, line 3: malformed CSV: a quoted field opened in this row is never closed" in the_error(result)


CLOSED = [
    ("a multi-line last cell", b'id,v\n1,a\n2,"x\ny"\n', [{"id": 1, "v": "a"}, {"id": 2, "v": "x\ny"}]),
    ("ending in a line break", b'id,v\n1,"abc\n"\n', [{"id": 1, "v": "abc\n"}]),
    ("the same without a final break", b'id,v\n1,"abc\n"', [{"id": 1, "v": "abc\n"}]),
    ("CRLF inside", b'id,v\r\n1,"a\r\nb\r\n"\r\n', [{"id": 1, "v": "a\r\nb\r\n"}]),
    ("stray quotes kept", b'id,v\n1,a"b\n2,"x\ny"z\n', [{"id": 1, "v": 'a"b'}, {"id": 2, "v": "x\nyz"}]),
    ("every row ending in a line break", b'id,v\n1,"p\n"\n2,"q\n"\n',
     [{"id": 1, "v": "p\n"}, {"id": 2, "v": "q\n"}]),
]


@pytest.mark.parametrize(("case", "data", "records"), CLOSED, ids=[c[0] for c in CLOSED])
def test_line_breaks_in_closed_quotes_and_stray_quotes_are_read_as_before(tmp_path: Path, case: str, data: bytes,
                                                                          records: list[dict[str, Any]]) -> None:
    result, _ = tap(tmp_path, "ok.csv", data)
    assert result.records("s") == records


def test_an_escaped_line_break_in_the_last_cell_is_no_quote(tmp_path: Path) -> None:
    result, _ = tap(tmp_path, "esc.csv", b'id,v\n1,a\\\nb\n', escapechar="\\")
    assert result.records("s") == [{"id": 1, "v": "a\nb"}]


def test_strict_mode_still_names_the_end_of_the_file(tmp_path: Path) -> None:
    result, path = tap(tmp_path, "q1.csv", b'id,v\n1,"abc\n2,x\n', ok=False, strict=True)
    assert f"stream 's': {path}, line 3: malformed CSV: unexpected end of data" in the_error(result)
