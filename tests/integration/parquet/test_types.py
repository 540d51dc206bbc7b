"""target-parquet's column types, read back with pyarrow and with DuckDB, against an oracle
computed in plain Python from the JSON text the test wrote."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import target_states
from tests.integration.parquet.support import (
    duckdb_rows,
    parquet_files,
    pyarrow_rows,
    record,
    run_target,
    schema,
    state,
)

PROPS: dict[str, Any] = {
    "id": {"type": "integer"},
    "amount": {"type": ["number", "null"]},
    "price": {"type": ["number", "null"], "multipleOf": 0.001},
    "big": {"type": ["integer", "null"], "maximum": 10 ** 30},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "name": {"type": ["string", "null"]},
    "ok": {"type": ["boolean", "null"]},
    "addr": {"type": ["object", "null"], "properties": {
        "city": {"type": "string"}, "zip": {"type": ["integer", "null"]},
        "since": {"type": ["string", "null"], "format": "date"}}},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    "free": {"type": ["object", "null"]},
}

# (id, the record's JSON text). A record with a long digit run holds no multipleOf number: the kit's
# validator fails on that combination (a Decimal divided by a float), a kit issue left alone here.
# (id, the record's JSON text): numbers written as text, so the oracle sees exactly what was sent
ROWS = [
    (1, '{"id":1,"amount":1234.56,"price":0.125,'
        '"at":"2024-03-01T10:00:00+02:00","day":"2024-03-01","name":"Zoë \\"q\\"","ok":true,'
        '"addr":{"city":"Utrecht","zip":3511,"since":"2020-01-02"},"tags":["a","b"],"free":{"x":[1,{"y":2.50}]}}'),
    (2, '{"id":2,"amount":0.1,"price":7,"big":123456789012345678901234567890,'
        '"at":"2024-03-02T00:00:00.123456Z","day":null,'
        '"name":null,"ok":false,"addr":{"city":"Gent","zip":null},"tags":[],"free":null}'),
    (3, '{"id":3,"amount":-99999999.99,"big":-5,"at":"1999-12-31T23:59:59.5-05:30",'
        '"free":{"p":0.12345678901234567890123}}'),
    (9223372036854775807, '{"id":9223372036854775807,"amount":1e2}'),
]


def stream() -> bytes:
    lines = [schema("things", PROPS)]
    lines += [b'{"type":"RECORD","stream":"things","record":' + text.encode() + b"}\n" for _, text in ROWS]
    return b"".join(lines) + state(1)


def expected(decimals: bool) -> list[dict[str, Any]]:
    """The oracle, from the literals above."""
    def num(text: str | None) -> Any:
        if text is None:
            return None
        return Decimal(text).quantize(Decimal("0.01")) if decimals else float(text)

    def ts(text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(UTC)

    base: dict[str, Any] = dict.fromkeys(PROPS)
    return [
        {**base, "id": 1, "amount": num("1234.56"), "price": Decimal("0.125"),
         "at": ts("2024-03-01T10:00:00+02:00"), "day": date(2024, 3, 1), "name": 'Zoë "q"', "ok": True,
         "addr": {"city": "Utrecht", "zip": 3511, "since": date(2020, 1, 2)}, "tags": ["a", "b"],
         "free": '{"x":[1,{"y":2.5}]}'},
        {**base, "id": 2, "amount": num("0.1"), "price": Decimal("7.000"),
         "big": Decimal(123456789012345678901234567890),
         "at": ts("2024-03-02T00:00:00.123456+00:00"), "ok": False,
         "addr": {"city": "Gent", "zip": None, "since": None}, "tags": []},
        {**base, "id": 3, "amount": num("-99999999.99"), "big": Decimal(-5),
         "at": ts("1999-12-31T23:59:59.500000-05:30"),
         "free": '{"p":0.12345678901234567890123}'},
        {**base, "id": 9223372036854775807, "amount": num("100")},
    ]


def _normal(row: dict[str, Any]) -> dict[str, Any]:
    """Time zones as UTC offsets (pyarrow gives a zoneinfo, the oracle datetime.UTC)."""
    return {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in row.items()}


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("decimals", [True, False])
def test_every_type_reads_back_exactly_with_pyarrow_and_duckdb(tmp_path: Path, fast_path: bool,
                                                                decimals: bool) -> None:
    settings: dict[str, Any] = {"fast_path": fast_path}
    if decimals:
        settings |= {"decimals": "always", "decimal_scale": 2}
    done = run_target(tmp_path, stream(), **settings)
    assert done.returncode == 0, done.stderr.decode()
    assert target_states(done.stdout) == [{"n": 1}]
    files = tmp_path / "out" / "things" / "v1"
    rows = [_normal(r) for r in pyarrow_rows(files)]
    assert rows == expected(decimals)
    # JSON text holds the values exactly (a long digit run is not rounded to a float)
    assert rows[2]["free"] == '{"p":0.12345678901234567890123}'

    import pyarrow.dataset as ds

    types = {f.name: str(f.type) for f in ds.dataset(files, format="parquet").schema}
    assert types == {
        "id": "int64", "amount": "decimal128(38, 2)" if decimals else "double",
        "price": "decimal128(38, 3)", "big": "decimal128(38, 0)", "at": "timestamp[us, tz=UTC]",
        "day": "date32[day]", "name": "string", "ok": "bool",
        "addr": "struct<city: string, zip: int64, since: date32[day]>", "tags": "list<element: string>",
        "free": "string"}
    seen = duckdb_rows(files, 'id, amount, price, big, "at", "day", addr, tags')
    want = [(r["id"], r["amount"], r["price"], r["big"], r["at"], r["day"], r["addr"], r["tags"])
            for r in expected(decimals)]
    assert [tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row) for row in seen] == want


def test_objects_and_arrays_as_json_text(tmp_path: Path) -> None:
    done = run_target(tmp_path, stream(), objects_as="json", arrays_as="json")
    assert done.returncode == 0, done.stderr.decode()
    rows = pyarrow_rows(tmp_path / "out" / "things" / "v1")
    assert rows[0]["addr"] == '{"city":"Utrecht","zip":3511,"since":"2020-01-02"}'
    assert rows[0]["tags"] == '["a","b"]'
    assert rows[1]["tags"] == "[]"
    assert rows[2]["addr"] is None


def test_integers_as_decimals_hold_38_digits(tmp_path: Path) -> None:
    big = 10 ** 37 + 7
    data = (schema("n", {"id": {"type": "integer"}, "v": {"type": "integer"}})
            + f'{{"type":"RECORD","stream":"n","record":{{"id":1,"v":{big}}}}}\n'.encode()
            + f'{{"type":"RECORD","stream":"n","record":{{"id":2,"v":{-big}}}}}\n'.encode() + state(1))
    done = run_target(tmp_path, data, integers="decimal")
    assert done.returncode == 0, done.stderr.decode()
    assert [r["v"] for r in pyarrow_rows(tmp_path / "out" / "n" / "v1")] == [Decimal(big), Decimal(-big)]
    assert [r[0] for r in duckdb_rows(tmp_path / "out" / "n" / "v1", "v")] == [Decimal(big), Decimal(-big)]


@pytest.mark.parametrize("fast_path", [True, False])
def test_an_integer_beyond_int64_stops_with_its_line_and_field(tmp_path: Path, fast_path: bool) -> None:
    data = (schema("n", {"id": {"type": "integer"}, "v": {"type": ["integer", "null"]}})
            + b'{"type":"RECORD","stream":"n","record":{"id":1,"v":5}}\n' + state(1)
            + b'{"type":"RECORD","stream":"n","record":{"id":2,"v":6}}\n'
            + b'{"type":"RECORD","stream":"n","record":{"id":3,"v":9223372036854775808}}\n' + state(2))
    done = run_target(tmp_path, data, fast_path=fast_path, state_flush_seconds=0)
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1, errors
    assert "line 5" in errors[0] and "stream 'n'" in errors[0] and "field 'v'" in errors[0], errors[0]
    assert "integers: decimal" in errors[0]
    assert target_states(done.stdout) == [{"n": 1}]
    assert [r["id"] for r in pyarrow_rows(tmp_path / "out" / "n" / "v1")] == [1]  # before the last STATE: kept


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_number_past_a_doubles_range_stops_instead_of_becoming_infinity(tmp_path: Path, fast_path: bool) -> None:
    # 1E400 is JSON, read exactly (a Decimal); a double column would hold inf
    data = (schema("n", {"id": {"type": "integer"}, "v": {"type": ["number", "null"]}})
            + b'{"type":"RECORD","stream":"n","record":{"id":1,"v":-2.5e300}}\n' + state(1)
            + b'{"type":"RECORD","stream":"n","record":{"id":2,"v":1E400}}\n' + state(2))
    done = run_target(tmp_path, data, fast_path=fast_path, state_flush_seconds=0)
    assert done.returncode == 1
    errors = [ln for ln in done.stderr.decode().splitlines() if "ERROR" in ln]
    assert len(errors) == 1, errors
    assert "line 4, stream 'n', field 'v'" in errors[0] and "1E+400" in errors[0], errors[0]
    assert target_states(done.stdout) == [{"n": 1}]
    assert [r["v"] for r in pyarrow_rows(tmp_path / "out" / "n" / "v1")] == [-2.5e300]


@pytest.mark.parametrize("fast_path", [True, False])
def test_an_integral_number_with_a_fraction_of_zeros_is_an_int64(tmp_path: Path, fast_path: bool) -> None:
    data = (schema("n", {"id": {"type": "integer"}, "v": {"type": ["integer", "null"]}})
            + b'{"type":"RECORD","stream":"n","record":{"id":1,"v":2.0}}\n'
            + b'{"type":"RECORD","stream":"n","record":{"id":2,"v":1234567890123456.0}}\n' + state(1))
    done = run_target(tmp_path, data, fast_path=fast_path)
    assert done.returncode == 0, done.stderr.decode()
    assert [r["v"] for r in pyarrow_rows(tmp_path / "out" / "n" / "v1")] == [2, 1234567890123456]


def test_a_decimal_with_more_digits_than_its_scale_is_never_rounded(tmp_path: Path) -> None:
    data = (schema("n", {"id": {"type": "integer"}, "v": {"type": "number"}})
            + b'{"type":"RECORD","stream":"n","record":{"id":1,"v":1.25}}\n'
            + b'{"type":"RECORD","stream":"n","record":{"id":2,"v":1.255}}\n' + state(1))
    done = run_target(tmp_path, data, decimals="always", decimal_scale=2)
    assert done.returncode == 1
    assert "line 3, stream 'n', field 'v'" in done.stderr.decode()
    assert "more than 2 digits after the point" in done.stderr.decode()
    assert target_states(done.stdout) == []
    assert not list((tmp_path / "out").rglob("*.parquet"))


@pytest.mark.parametrize("fast_path", [True, False])
def test_every_date_time_form_the_validator_accepts_is_written_in_utc(tmp_path: Path, fast_path: bool) -> None:
    forms = {"2024-01-01T00:00:00.1234567Z": datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
             "2024-01-01t10:00:00z": datetime(2024, 1, 1, 10, tzinfo=UTC),
             "2024-01-01T00:00:00+0200": datetime(2023, 12, 31, 22, tzinfo=UTC),
             "2024-01-01 05:00:00Z": datetime(2024, 1, 1, 5, tzinfo=UTC),
             "2024-06-30T23:59:59-09:30": datetime(2024, 7, 1, 9, 29, 59, tzinfo=UTC)}
    props = {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}}
    data = schema("t", props) + b"".join(
        f'{{"type":"RECORD","stream":"t","record":{{"id":{i},"at":"{text}"}}}}\n'.encode()
        for i, text in enumerate(forms)) + state(1)
    done = run_target(tmp_path, data, fast_path=fast_path)
    assert done.returncode == 0, done.stderr.decode()
    assert [r["at"] for r in pyarrow_rows(tmp_path / "out" / "t" / "v1")] == list(forms.values())


@pytest.mark.parametrize("fast_path", [True, False])
def test_an_instant_before_year_1_in_utc_is_written_whatever_its_neighbours(tmp_path: Path, fast_path: bool) -> None:
    # 0001-01-01T00:00:00+01:00 is year 0 in UTC: pyarrow's reader writes it; a neighbour that sends
    # the batch the reference way ('t' and 'z' lower-case) used to make the run fail with an internal error
    props = {"id": {"type": "integer"}, "at": {"type": ["string", "null"], "format": "date-time"}}
    data = (schema("t", props) + record("t", {"id": 1, "at": "0001-01-01T00:00:00+01:00"})
            + record("t", {"id": 2, "at": "2024-01-01t00:00:00z"}) + state(1))
    done = run_target(tmp_path, data, fast_path=fast_path)
    assert done.returncode == 0, done.stderr.decode()
    files = parquet_files(tmp_path / "out")
    micros = sorted(pq.read_table(files[0]).column("at").cast(pa.int64()).to_pylist())
    assert micros == [-62135600400000000, 1704067200000000]


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_double_that_overflows_stops_instead_of_becoming_infinity(tmp_path: Path, fast_path: bool) -> None:
    # read as a float (not a Decimal as 1E400 is), it overflows to inf: pyarrow's reader took it
    data = (schema("n", {"id": {"type": "integer"}, "v": {"type": ["number", "null"]}})
            + b'{"type":"RECORD","stream":"n","record":{"id":1,"v":1.7976931348623159e308}}\n' + state(1))
    done = run_target(tmp_path, data, fast_path=fast_path)
    assert done.returncode == 1
    assert "line 2, stream 'n', field 'v'" in done.stderr.decode() and "past a double's range" in done.stderr.decode()
    assert not parquet_files(tmp_path / "out")


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_decimal_with_more_digits_than_its_precision_stops(tmp_path: Path, fast_path: bool) -> None:
    # 39 digits in a decimal128(38, 2) column: pyarrow's reader took it without a word
    data = (schema("n", {"id": {"type": "integer"}, "m": {"type": "number", "multipleOf": 0.01}})
            + b'{"type":"RECORD","stream":"n","record":{"id":1,"m":1234567890123456789012345678901234567.8}}\n'
            + state(1))
    done = run_target(tmp_path, data, fast_path=fast_path)
    assert done.returncode == 1
    assert "line 2, stream 'n', field 'm'" in done.stderr.decode(), done.stderr.decode()
    assert not parquet_files(tmp_path / "out")
