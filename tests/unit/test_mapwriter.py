"""The tap side's mapped writer names the record a map fails on, in bulk rows as in single records:
its number among the stream's records written so far and its key values (no input line names it)."""

from __future__ import annotations

import io

import pytest

from protocol._mapwriter import MappedWriter, stream_maps_from_config
from protocol._messages import SchemaMessage
from protocol.maps._errors import MapExpressionError

SCHEMA = SchemaMessage("orders", {"type": "object", "properties": {"id": {"type": "integer"},
                                                                  "region": {"type": "string"}}}, ["region", "id"])


def _writer(expression: str) -> tuple[MappedWriter, io.BytesIO]:
    maps = stream_maps_from_config({"stream_maps": {"orders": {"x": expression}}}, "tap-test")
    assert maps is not None
    out = io.BytesIO()
    writer = MappedWriter(out, maps)
    writer.write_message(SCHEMA)
    return writer, out


def _rows(ids: range) -> bytes:
    return b"".join(b'{"id":%d,"region":"eu"}\n' % i for i in ids)


def test_bulk_rows_count_on_from_the_records_before() -> None:
    writer, _ = _writer("1 // (id - 7)")
    writer.write_record("orders", {"id": 1, "region": "eu"})
    writer.write_records_json("orders", _rows(range(2, 5)))
    with pytest.raises(MapExpressionError) as raised:
        writer.write_records_json("orders", _rows(range(5, 10)))
    assert str(raised.value) == ("stream 'orders', record 7 (region='eu', id=7), field 'x': stream map expression "
                                 "'1 // (id - 7)' failed: ZeroDivisionError: integer division or modulo by zero")


def test_a_single_record_after_bulk_rows() -> None:
    writer, out = _writer("1 // (id - 4)")
    writer.write_records_json("orders", _rows(range(1, 4)))
    with pytest.raises(MapExpressionError, match=r"^stream 'orders', record 4 \(region='eu', id=4\), field 'x': "):
        writer.write_record("orders", {"id": 4, "region": "eu"})
    writer.flush()
    assert out.getvalue().count(b'"type":"RECORD"') == 3
